// fastai's untar_data for this project: fetch an archive (upstream or from a mirror), verify it,
// unpack it into the data directory, and reuse it next time.
//
// What is on disk, and why it can be trusted:
// - archive/<name> with archive/<name>.verified.json beside it: the bytes' size, md5 and sha256 and how
//   they were verified (fastai's size and md5, or a mirror's SHA256SUMS). An archive that matches its
//   record is used as is, whatever the current settings, so an archive from a mirror still serves a
//   later run without the mirror. An archive is only ever replaced by a verified one (a rename), never
//   deleted first.
// - <folder>/ with <folder>.unpacked.json beside it: written after a full unpack, with the number of
//   files. A folder without it, or with fewer or more files, is unpacked again.
// - Temporary names hold the writer's pid; those of processes that no longer run are removed.
import * as fs from "node:fs";
import * as path from "node:path";
import * as tar from "tar";
import { downloadToTemp, FileMissingError, hashFile, joinLocation, localPath, parseSha256Sums, readText } from "./download";
import { archiveName, folderName, type DatasetUrl } from "./urls";
import { ensureDataDir, removeLeftovers, resolveDataDir, tempName, writeFileAtomic, type DataDir } from "./data-dir";

export { defaultDataDir } from "./data-dir";

export interface UntarOptions {
  /** Where archives and unpacked folders live (default: DATA_DIR or the project's data/). */
  dataDir?: string;
  /** A folder or URL holding the same file names plus SHA256SUMS (default: DATA_MIRROR). */
  mirror?: string;
  /** Fetch and unpack again even when present (what is there is replaced only once the new copy is verified). */
  force?: boolean;
}

type Hashes = { size: number; md5: string; sha256: string };

/** What archive/<name>.verified.json holds. */
export interface ArchiveRecord extends Hashes {
  archive: string;
  /** How it was verified: fastai's published size and md5, or a mirror's SHA256SUMS. */
  method: "size+md5" | "SHA256SUMS";
  /** Where the bytes came from. */
  source: string;
  /** What they were checked against, for people. */
  checkedAgainst: string;
  verifiedAt: string;
}

/** What <folder>.unpacked.json holds. */
export interface UnpackedMarker {
  folder: string;
  archive: string;
  archiveSha256: string;
  files: number;
  unpackedAt: string;
}

interface Expectation {
  method: ArchiveRecord["method"];
  /** Human-readable, for messages and the record. */
  what: string;
  /** Undefined when `h` matches, else what differs. */
  mismatch(h: Hashes): string | undefined;
}

const recordPath = (archive: string) => `${archive}.verified.json`;
const markerPath = (folder: string) => `${folder}.unpacked.json`;

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as T;
  } catch {
    return undefined;
  }
}

const sameBytes = (r: ArchiveRecord | undefined, h: Hashes) =>
  r !== undefined && r.size === h.size && r.md5 === h.md5 && r.sha256 === h.sha256;

function displayMirror(mirror: string): string {
  return localPath(mirror) ?? mirror;
}

async function expectationFor(d: DatasetUrl, mirror: string | undefined): Promise<Expectation> {
  const name = archiveName(d);
  if (!mirror) {
    return {
      method: "size+md5",
      what: `fastai's size ${d.size} and md5 ${d.md5}`,
      mismatch: (h) =>
        h.size !== d.size ? `expected ${d.size} bytes, got ${h.size}` :
        h.md5 !== d.md5 ? `expected md5 ${d.md5}, got ${h.md5}` : undefined,
    };
  }
  const sumsAt = joinLocation(mirror, "SHA256SUMS");
  let text: string;
  try {
    text = await readText(sumsAt);
  } catch (e) {
    throw new Error(`The data mirror ${mirror} has no readable SHA256SUMS (${(e as Error).message}). ` +
      `A mirror must hold the archives plus a SHA256SUMS file; check DATA_MIRROR.`);
  }
  const sha = parseSha256Sums(text).get(name);
  if (!sha) throw new Error(`The data mirror's SHA256SUMS (${sumsAt}) lists no ${name}; add its checksum there or check DATA_MIRROR.`);
  return {
    method: "SHA256SUMS",
    what: `sha256 ${sha} from ${displayMirror(sumsAt)}`,
    mismatch: (h) => (h.sha256 !== sha ? `expected sha256 ${sha}, got ${h.sha256}` : undefined),
  };
}

function writeRecord(archive: string, h: Hashes, e: Expectation, source: string): ArchiveRecord {
  const record: ArchiveRecord = {
    archive: path.basename(archive), size: h.size, md5: h.md5, sha256: h.sha256,
    method: e.method, source, checkedAgainst: e.what, verifiedAt: new Date().toISOString(),
  };
  writeFileAtomic(recordPath(archive), JSON.stringify(record, null, 2) + "\n");
  return record;
}

/** Data directory checked and cleaned of leftovers; done once per call of the public functions. */
function prepare(dataDir: string | undefined): DataDir {
  const dd = resolveDataDir(dataDir);
  ensureDataDir(dd);
  removeLeftovers(dd.dir);
  return dd;
}

async function fetchArchive(d: DatasetUrl, dd: DataDir, opts: UntarOptions): Promise<{ archive: string; record: ArchiveRecord }> {
  const mirror = opts.mirror ?? (process.env.DATA_MIRROR || undefined);
  const name = archiveName(d);
  const dest = path.join(dd.dir, "archive", name);
  // Why what is there cannot be used; it stays until a verified copy replaces it.
  let kept: string | undefined;

  if (fs.existsSync(dest) && opts.force) {
    kept = "a fresh copy was asked for (force)";
  } else if (fs.existsSync(dest)) {
    const h = await hashFile(dest);
    const record = readJson<ArchiveRecord>(recordPath(dest));
    if (record && sameBytes(record, h)) return { archive: dest, record };
    const expected = await expectationFor(d, mirror);
    const problem = expected.mismatch(h);
    if (!problem) return { archive: dest, record: writeRecord(dest, h, expected, "an earlier download") };
    kept = record
      ? `it changed since it was verified on ${record.verifiedAt} (${problem})`
      : `it fails its check (${problem}) and has no record of an earlier verification`;
    console.warn(`${dest}: ${kept}; fetching a fresh copy (the file is kept until that one is verified).`);
  }

  const expected = await expectationFor(d, mirror);
  const src = mirror ? joinLocation(mirror, name) : d.url;
  const keptNote = kept
    ? ` The archive already in ${dest} was kept: ${kept}.` +
      (!mirror && !opts.force ? " If it came from a data mirror, set DATA_MIRROR to that mirror to verify it by its SHA256SUMS." : "")
    : "";
  let got;
  try {
    got = await downloadToTemp(src, dest, name);
  } catch (e) {
    if (mirror && e instanceof FileMissingError) {
      throw new Error(`The data mirror ${mirror} has no ${name}. Check DATA_MIRROR: it must hold the same file names ` +
        `as fastai's downloads plus SHA256SUMS; or unset it to download from ${d.url}.${keptNote}`);
    }
    if (!mirror) {
      throw new Error(`Could not download ${name}: ${(e as Error).message}. Without internet access, set DATA_MIRROR ` +
        `to a folder or URL holding ${name} and SHA256SUMS (see README, "Data").${keptNote}`);
    }
    throw new Error(`${(e as Error).message}.${keptNote}`);
  }
  const problem = expected.mismatch(got);
  if (problem) {
    await fs.promises.rm(got.tmpPath, { force: true });
    throw new Error(`Checksum mismatch for ${name} from ${src}: ${problem}. The file is corrupt or not the one expected; ` +
      `it was not kept. Run again to retry${mirror ? ", or repair the mirror" : ""}.${keptNote}`);
  }
  // The record is written first: an archive in place always has one (if this stops in between, the old
  // archive no longer matches it and is checked again next time).
  let record: ArchiveRecord;
  try {
    record = writeRecord(dest, got, expected, src);
    await fs.promises.rename(got.tmpPath, dest);
  } catch (e) {
    await fs.promises.rm(got.tmpPath, { force: true });
    throw e;
  }
  return { archive: dest, record };
}

/** Returns the path of a verified copy of the archive in dataDir/archive, fetching it if needed. */
export async function downloadData(d: DatasetUrl, opts: UntarOptions = {}): Promise<string> {
  return (await fetchArchive(d, prepare(opts.dataDir), opts)).archive;
}

/** Counts the files (anything but folders) under `dir`. */
function countFiles(dir: string): number {
  let n = 0;
  const stack = [dir];
  while (stack.length > 0) {
    const cur = stack.pop()!;
    for (const e of fs.readdirSync(cur, { withFileTypes: true })) {
      if (e.isDirectory()) stack.push(path.join(cur, e.name));
      else n++;
    }
  }
  return n;
}

/**
 * Whether `dataDir/<folder>` is a complete unpack of the data set: undefined when it is, else why not.
 * A folder counts only with its marker, written after a full unpack, and the number of files it lists.
 */
export function unpackedProblem(d: DatasetUrl, dataDir?: string): string | undefined {
  const dir = dataDir ? path.resolve(dataDir) : resolveDataDir(undefined).dir;
  const folder = path.join(dir, folderName(d));
  if (!fs.existsSync(folder)) return "it is missing";
  const marker = readJson<UnpackedMarker>(markerPath(folder));
  if (!marker || typeof marker.files !== "number") {
    return `it has no ${path.basename(markerPath(folder))}, which is written once a full unpack is done`;
  }
  let n: number;
  try {
    n = countFiles(folder);
  } catch (e) {
    return `it cannot be read (${(e as Error).message})`;
  }
  if (n !== marker.files) return `it holds ${n} files where the archive unpacked ${marker.files}`;
  return undefined;
}

/**
 * Downloads (if needed) and unpacks a data set, returning the folder it unpacked to, e.g.
 * data/mnist_sample. The folder appears only once fully unpacked; one that is incomplete is unpacked again.
 */
export async function untarData(d: DatasetUrl, opts: UntarOptions = {}): Promise<string> {
  const dd = prepare(opts.dataDir);
  const folder = folderName(d);
  const dest = path.join(dd.dir, folder);
  const problem = unpackedProblem(d, dd.dir);
  if (!opts.force && !problem) return dest;
  if (!opts.force && fs.existsSync(dest)) console.warn(`${dest} is incomplete: ${problem}. Unpacking it again.`);

  const { archive, record } = await fetchArchive(d, dd, opts);
  const tmp = tempName(path.join(dd.dir, folder), "unpack");
  await fs.promises.mkdir(tmp, { recursive: true });
  let stale: string | undefined;
  try {
    console.log(`Unpacking ${path.basename(archive)} into ${dd.dir}`);
    try {
      // Synchronous, so that after a failure no write is still pending while the folder is removed.
      tar.x({ file: archive, cwd: tmp, strict: true, sync: true });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code && /^E[A-Z]+$/.test(err.code) && err.code !== "EOF") {
        throw new Error(`Could not unpack ${archive} into ${dd.dir}: ${err.message}. The archive is kept; free space or ` +
          `fix the permissions of the data folder (${dd.origin}) and run again.`);
      }
      throw new Error(`Could not unpack ${archive}: ${err.message}. It matches its checksum (${record.checkedAgainst}), so ` +
        `the copy at ${record.source} is itself damaged. The archive is kept; delete it and run again once the source is repaired.`);
    }
    const unpacked = path.join(tmp, folder);
    if (!fs.existsSync(unpacked)) {
      throw new Error(`Could not unpack ${archive}: it holds no top-level folder "${folder}". The archive is kept; ` +
        `it is not the data set expected (from ${record.source}).`);
    }
    const files = countFiles(unpacked);
    // Another process (a second notebook, a test) may have completed the same folder meanwhile: keep
    // theirs rather than pull it from under them.
    if (!opts.force && !unpackedProblem(d, dd.dir)) return dest;
    // Whatever is at dest now is incomplete (or being replaced): the marker goes first, then the folder.
    await fs.promises.rm(markerPath(dest), { force: true });
    if (fs.existsSync(dest)) {
      stale = tempName(dest, "stale");
      await fs.promises.rename(dest, stale);
    }
    try {
      await fs.promises.rename(unpacked, dest);
    } catch (e) {
      // Another process unpacked the same data set first: theirs is complete, keep it.
      if (!unpackedProblem(d, dd.dir)) return dest;
      throw e;
    }
    const marker: UnpackedMarker = { folder, archive: record.archive, archiveSha256: record.sha256, files, unpackedAt: new Date().toISOString() };
    writeFileAtomic(markerPath(dest), JSON.stringify(marker, null, 2) + "\n");
  } finally {
    await fs.promises.rm(tmp, { recursive: true, force: true });
    if (stale) await fs.promises.rm(stale, { recursive: true, force: true });
  }
  return dest;
}
