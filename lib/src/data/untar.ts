// fastai's untar_data for this project: fetch an archive (upstream or from a mirror), verify it,
// unpack it atomically into the data directory, and reuse it next time.
import * as fs from "node:fs";
import * as path from "node:path";
import * as tar from "tar";
import { downloadToTemp, FileMissingError, hashFile, joinLocation, parseSha256Sums, readText } from "./download";
import { archiveName, folderName, type DatasetUrl } from "./urls";

/** The project's data/ folder, or DATA_DIR when set. */
export function defaultDataDir(): string {
  return path.resolve(process.env.DATA_DIR || path.join(__dirname, "..", "..", "..", "data"));
}

export interface UntarOptions {
  /** Where archives and unpacked folders live (default: DATA_DIR or the project's data/). */
  dataDir?: string;
  /** A folder or URL holding the same file names plus SHA256SUMS (default: DATA_MIRROR). */
  mirror?: string;
  /** Fetch and unpack again even when present. */
  force?: boolean;
}

interface Expectation {
  /** Human-readable, for messages. */
  what: string;
  /** Undefined when `h` matches, else what differs. */
  mismatch(h: { size: number; md5: string; sha256: string }): string | undefined;
}

async function expectationFor(d: DatasetUrl, mirror: string | undefined): Promise<Expectation> {
  const name = archiveName(d);
  if (!mirror) {
    return {
      what: `size ${d.size} and md5 ${d.md5}`,
      mismatch: (h) =>
        h.size !== d.size ? `expected ${d.size} bytes, got ${h.size}` :
        h.md5 !== d.md5 ? `expected md5 ${d.md5}, got ${h.md5}` : undefined,
    };
  }
  let text: string;
  try {
    text = await readText(joinLocation(mirror, "SHA256SUMS"));
  } catch (e) {
    throw new Error(`The data mirror ${mirror} has no readable SHA256SUMS (${(e as Error).message}). ` +
      `A mirror must hold the archives plus a SHA256SUMS file; check DATA_MIRROR.`);
  }
  const sha = parseSha256Sums(text).get(name);
  if (!sha) throw new Error(`The data mirror's SHA256SUMS (${joinLocation(mirror, "SHA256SUMS")}) lists no ${name}; ` +
    `add its checksum there or check DATA_MIRROR.`);
  return { what: `sha256 ${sha}`, mismatch: (h) => (h.sha256 !== sha ? `expected sha256 ${sha}, got ${h.sha256}` : undefined) };
}

/** Returns the path of a verified copy of the archive in dataDir/archive, fetching it if needed. */
export async function downloadData(d: DatasetUrl, opts: UntarOptions = {}): Promise<string> {
  const dataDir = opts.dataDir ?? defaultDataDir();
  const mirror = opts.mirror ?? (process.env.DATA_MIRROR || undefined);
  const name = archiveName(d);
  const dest = path.join(dataDir, "archive", name);
  const expected = await expectationFor(d, mirror);

  if (!opts.force && fs.existsSync(dest)) {
    const problem = expected.mismatch(await hashFile(dest));
    if (!problem) return dest;
    console.warn(`${dest} fails its check (${problem}); fetching it again.`);
    await fs.promises.rm(dest, { force: true });
  }

  const src = mirror ? joinLocation(mirror, name) : d.url;
  let got;
  try {
    got = await downloadToTemp(src, dest, name);
  } catch (e) {
    if (mirror && e instanceof FileMissingError) {
      throw new Error(`The data mirror ${mirror} has no ${name}. Check DATA_MIRROR: it must hold the same file names ` +
        `as fastai's downloads plus SHA256SUMS; or unset it to download from ${d.url}.`);
    }
    if (!mirror) {
      throw new Error(`Could not download ${name}: ${(e as Error).message}. Without internet access, set DATA_MIRROR ` +
        `to a folder or URL holding ${name} and SHA256SUMS (see README, "Data").`);
    }
    throw e;
  }
  const problem = expected.mismatch(got);
  if (problem) {
    await fs.promises.rm(got.tmpPath, { force: true });
    throw new Error(`Checksum mismatch for ${name} from ${src}: ${problem}. The file is corrupt or not the one expected; ` +
      `nothing was kept. Run again to retry${mirror ? ", or repair the mirror" : ""}.`);
  }
  await fs.promises.rename(got.tmpPath, dest);
  return dest;
}

/**
 * Downloads (if needed) and unpacks a data set, returning the folder it unpacked to, e.g.
 * data/mnist_sample. The folder appears only once fully unpacked, so a failure leaves nothing half-done.
 */
export async function untarData(d: DatasetUrl, opts: UntarOptions = {}): Promise<string> {
  const dataDir = opts.dataDir ?? defaultDataDir();
  const folder = folderName(d);
  const dest = path.join(dataDir, folder);
  if (!opts.force && fs.existsSync(dest)) return dest;

  const archive = await downloadData(d, { ...opts, dataDir });
  const tmp = path.join(dataDir, `.unpack-${folder}-${process.pid}-${Date.now()}`);
  await fs.promises.mkdir(tmp, { recursive: true });
  try {
    process.stderr.write(`Unpacking ${path.basename(archive)} into ${dataDir}\n`);
    // Synchronous, so that after a failure no write is still pending while the folder is removed.
    tar.x({ file: archive, cwd: tmp, strict: true, sync: true });
    const unpacked = path.join(tmp, folder);
    if (!fs.existsSync(unpacked)) throw new Error(`it holds no top-level folder "${folder}"`);
    if (opts.force) await fs.promises.rm(dest, { recursive: true, force: true });
    try {
      await fs.promises.rename(unpacked, dest);
    } catch (e) {
      // Another process unpacked the same data set first: theirs is complete, keep it.
      if (!fs.existsSync(dest)) throw e;
    }
  } catch (e) {
    await fs.promises.rm(archive, { force: true });
    throw new Error(`Could not unpack ${archive}: ${(e as Error).message}. The archive is truncated or corrupt; ` +
      `it was deleted so that the next run fetches it again.`);
  } finally {
    await fs.promises.rm(tmp, { recursive: true, force: true });
  }
  return dest;
}
