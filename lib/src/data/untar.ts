// fastai's untar_data for this project: fetch an archive (upstream or from a mirror), verify it,
// unpack it into the data directory, and reuse it next time.
//
// What is on disk, and why it can be trusted:
// - archive/<name> with archive/<name>.verified.json beside it: the bytes' size, md5 and sha256 and how
//   they were verified (fastai's size and md5, or a mirror's SHA256SUMS). An archive that matches its
//   record is used as is, whatever the current settings, so an archive from a mirror still serves a
//   later run without the mirror. An archive is only ever replaced by a verified one that also unpacks
//   (a rename), never deleted first.
// - <folder>/ with <folder>.unpacked.json beside it: written after a full unpack, with the number of
//   files. From then on the folder is the user's: files added or removed stay as they are (a note says
//   so), and only `force` unpacks it again. A folder without the marker never completed its unpack and
//   is unpacked again.
// - Temporary names hold the writer's pid; those of processes that no longer run are removed.
import * as fs from "node:fs";
import * as path from "node:path";
import { downloadToTemp, type Downloaded, FileMissingError, hashFile, joinLocation, localPath, parseSha256Sums, readText } from "./download";
import { extractTar } from "./tar-extract";
import { archiveName, folderName, type DatasetUrl } from "./urls";
import { ensureDataDir, removeLeftovers, resolveDataDir, tempName, writeFileAtomic, type DataDir } from "./data-dir";

export { defaultDataDir } from "./data-dir";

/** Options of `untarData`. */
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

function makeRecord(archive: string, h: Hashes, e: Expectation, source: string): ArchiveRecord {
  return {
    archive: path.basename(archive), size: h.size, md5: h.md5, sha256: h.sha256,
    method: e.method, source, checkedAgainst: e.what, verifiedAt: new Date().toISOString(),
  };
}

function writeRecord(archive: string, h: Hashes, e: Expectation, source: string): ArchiveRecord {
  const record = makeRecord(archive, h, e, source);
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

/**
 * A verified archive. `file` is where its bytes are now: the archive in place, or (when it is to replace
 * the one in place) a temporary name that `commit` renames into place, record first, and `discard` removes.
 */
interface Fetched {
  file: string;
  record: ArchiveRecord;
  /** "earlier": the archive in place, verified before; "new": fetched now into an empty place; "replacement": fetched now, not yet in place. */
  origin: "earlier" | "new" | "replacement";
  commit(): Promise<void>;
  discard(): Promise<void>;
}

async function fetchArchive(d: DatasetUrl, dd: DataDir, opts: UntarOptions): Promise<Fetched> {
  const mirror = opts.mirror ?? (process.env.DATA_MIRROR || undefined);
  const name = archiveName(d);
  const dest = path.join(dd.dir, "archive", name);
  const nothing = async () => {};
  // Why what is there cannot be used; it stays until a verified copy replaces it.
  let kept: string | undefined;

  if (fs.existsSync(dest) && opts.force) {
    kept = "a fresh copy was asked for (force)";
  } else if (fs.existsSync(dest)) {
    const h = await hashFile(dest);
    const record = readJson<ArchiveRecord>(recordPath(dest));
    if (record && sameBytes(record, h)) return { file: dest, record, origin: "earlier", commit: nothing, discard: nothing };
    const expected = await expectationFor(d, mirror);
    const problem = expected.mismatch(h);
    if (!problem) return { file: dest, record: writeRecord(dest, h, expected, "an earlier download"), origin: "earlier", commit: nothing, discard: nothing };
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
  let got: Downloaded;
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
    throw new Error(`${(e as Error).message}. Run again to retry, or check DATA_MIRROR (${mirror}).${keptNote}`);
  }
  const problem = expected.mismatch(got);
  if (problem) {
    await fs.promises.rm(got.tmpPath, { force: true });
    throw new Error(`Checksum mismatch for ${name} from ${src}: ${problem}. The file is corrupt or not the one expected; ` +
      `it was not kept. Run again to retry${mirror ? ", or repair the mirror" : ""}.${keptNote}`);
  }
  const record = makeRecord(dest, got, expected, src);
  // The record is written first: an archive in place always has one (if this stops in between, the old
  // archive no longer matches it and is checked again next time).
  const commit = async () => {
    try {
      writeFileAtomic(recordPath(dest), JSON.stringify(record, null, 2) + "\n");
      await fs.promises.rename(got.tmpPath, dest);
    } catch (e) {
      await fs.promises.rm(got.tmpPath, { force: true });
      throw e;
    }
  };
  const discard = () => fs.promises.rm(got.tmpPath, { force: true });
  if (kept) return { file: got.tmpPath, record, origin: "replacement", commit, discard };
  // Nothing in place: the archive goes there at once, so that an unpack stopped half-way need not fetch it again.
  await commit();
  return { file: dest, record, origin: "new", commit: nothing, discard: nothing };
}

/** Returns the path of a verified copy of the archive in dataDir/archive, fetching it if needed. */
export async function downloadData(d: DatasetUrl, opts: UntarOptions = {}): Promise<string> {
  const dd = prepare(opts.dataDir);
  await (await fetchArchive(d, dd, opts)).commit();
  return path.join(dd.dir, "archive", archiveName(d));
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

/** What is at dataDir/<folder>: nothing, an unpack that never completed, or a completed one and its files now. */
type FolderState =
  | { kind: "missing" }
  | { kind: "incomplete"; why: string }
  | { kind: "unpacked"; files: number; marker: UnpackedMarker };

function folderState(folder: string): FolderState {
  if (!fs.existsSync(folder)) return { kind: "missing" };
  const marker = readJson<UnpackedMarker>(markerPath(folder));
  if (!marker || typeof marker.files !== "number") {
    return { kind: "incomplete", why: `it has no ${path.basename(markerPath(folder))}, which is written once a full unpack is done` };
  }
  try {
    return { kind: "unpacked", files: countFiles(folder), marker };
  } catch (e) {
    return { kind: "incomplete", why: `it cannot be read (${(e as Error).message})` };
  }
}

/**
 * Whether `dataDir/<folder>` is exactly as its unpack left it: undefined when it is, else how it differs
 * (missing, an unpack that never completed, or files added or removed since).
 */
export function unpackedProblem(d: DatasetUrl, dataDir?: string): string | undefined {
  const dir = dataDir ? path.resolve(dataDir) : resolveDataDir(undefined).dir;
  const state = folderState(path.join(dir, folderName(d)));
  if (state.kind === "missing") return "it is missing";
  if (state.kind === "incomplete") return state.why;
  if (state.files !== state.marker.files) return `it holds ${state.files} files where the archive unpacked ${state.marker.files}`;
  return undefined;
}

/**
 * Downloads (if needed) and unpacks a data set, returning the folder it unpacked to, e.g. data/mnist_png.
 * The folder appears only once fully unpacked, and is then yours: files you add or remove there stay as
 * you left them (a note says how the count changed); `force: true` fetches and unpacks a fresh copy.
 */
export async function untarData(d: DatasetUrl, opts: UntarOptions = {}): Promise<string> {
  const dd = prepare(opts.dataDir);
  const dest = path.join(dd.dir, folderName(d));
  const state = folderState(dest);
  if (!opts.force && state.kind === "unpacked") {
    noteChanges(dest, state, d);
    return dest;
  }
  if (!opts.force && state.kind === "incomplete") console.warn(`${dest} is incomplete: ${state.why}. Unpacking it again.`);
  await unpack(d, dd, await fetchArchive(d, dd, opts), opts);
  return dest;
}

function noteChanges(dest: string, { files, marker }: { files: number; marker: UnpackedMarker }, d: DatasetUrl): void {
  if (files === marker.files) return;
  const diff = files > marker.files ? `${files - marker.files} more` : `${marker.files - files} fewer`;
  console.log(`Note: ${dest} holds ${diff} files than its unpack left (${files} instead of ${marker.files}); it is used as it is. ` +
    `untarData(..., { force: true }) replaces it with a fresh unpack of ${archiveName(d)}.`);
}

/** Unpacks the archive into a temporary folder, then puts archive and folder in place; on failure, neither changes. */
async function unpack(d: DatasetUrl, dd: DataDir, fetched: Fetched, opts: UntarOptions): Promise<void> {
  const folder = folderName(d);
  const dest = path.join(dd.dir, folder);
  const tmp = tempName(dest, "unpack");
  await fs.promises.mkdir(tmp, { recursive: true });
  let stale: string | undefined;
  try {
    console.log(`Unpacking ${archiveName(d)} into ${dd.dir}`);
    const unpacked = path.join(tmp, folder);
    let files: number;
    try {
      // Every write is done (or failed) when this returns, so nothing is still writing while a failed
      // unpack's folder is removed.
      await extractTar(fetched.file, tmp);
      if (!fs.existsSync(unpacked)) throw new Error(`it holds no top-level folder "${folder}"`);
      files = countFiles(unpacked);
    } catch (e) {
      throw await unpackError(e as NodeJS.ErrnoException, d, dd, fetched);
    }
    // Another process (a second notebook, a test) may have completed the same folder meanwhile: keep
    // theirs rather than pull it from under them.
    if (!opts.force && folderState(dest).kind === "unpacked") {
      await fetched.discard();
      return;
    }
    await fetched.commit();
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
      if (folderState(dest).kind === "unpacked") return;
      throw e;
    }
    const marker: UnpackedMarker = {
      folder, archive: fetched.record.archive, archiveSha256: fetched.record.sha256, files, unpackedAt: new Date().toISOString(),
    };
    writeFileAtomic(markerPath(dest), JSON.stringify(marker, null, 2) + "\n");
  } finally {
    await fs.promises.rm(tmp, { recursive: true, force: true });
    if (stale) await fs.promises.rm(stale, { recursive: true, force: true });
  }
}

/** Why an unpack failed, what became of the archive, and what to do: a full disk, or a damaged archive. */
async function unpackError(e: NodeJS.ErrnoException, d: DatasetUrl, dd: DataDir, fetched: Fetched): Promise<Error> {
  const { record } = fetched;
  const archive = path.join(dd.dir, "archive", archiveName(d));
  const inPlace = fetched.origin === "replacement"
    ? ` The archive and the folder already in place were not changed.`
    : "";
  if (e.code && /^E[A-Z]+$/.test(e.code) && e.code !== "EOF") {
    await fetched.discard();
    return new Error(`Could not unpack ${archiveName(d)} into ${dd.dir}: ${e.message}. Free space or fix the permissions of ` +
      `the data folder (${dd.origin}) and run again; the verified archive ${fetched.origin === "replacement" ? "fetched now was not kept" : `stays in ${archive}`}.${inPlace}`);
  }
  const damaged = `Could not unpack ${archiveName(d)} (${e.message}). It matches its checksum (${record.checkedAgainst}), so the copy ` +
    `it came from (${record.source}) is itself damaged or not this data set.`;
  if (fetched.origin === "earlier") {
    return new Error(`${damaged} Delete ${archive} and ${recordPath(archive)}, then run again once that source is repaired ` +
      `(or run untarData with force: true, which replaces the archive only with a copy that unpacks).`);
  }
  await fetched.discard();
  if (fetched.origin === "new") {
    await fs.promises.rm(archive, { force: true }); // fetched by this call: nothing earlier is lost
    await fs.promises.rm(recordPath(archive), { force: true });
  }
  return new Error(`${damaged} It was not kept.${inPlace} Repair the source (the archive and its checksum) and run again.`);
}
