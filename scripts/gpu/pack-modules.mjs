#!/usr/bin/env node
// Packs what the tslab kernel needs to run the notebooks on a machine without an npm registry: the
// production packages of node_modules (and the optional @tensorflow/tfjs-backend-webgpu), the built
// library (lib/dist), trimmed to what Node loads and what TypeScript reads when it checks a cell.
// The whole node_modules is over 600 MB; this comes to about 10 MB as xz.
//
//   node scripts/gpu/pack-modules.mjs OUT.tar.xz
//
// Unpacked in the project root there (`tar -xJf OUT.tar.xz`), it restores node_modules/ and lib/dist/.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..", "..");
const out = path.resolve(process.argv[2] ?? "");
if (!process.argv[2]) { console.error("usage: node scripts/gpu/pack-modules.mjs OUT.tar.xz"); process.exit(2); }

// Not needed there: Dawn travels as its own file (DAWN_NODE); core-js is declared by @tensorflow/tfjs but
// not loaded by its Node build.
const SKIP = new Set(["webgpu", "core-js"]);

const listed = execFileSync("npm", ["ls", "--omit=dev", "--all", "--parseable"], { cwd: root, encoding: "utf8" })
  .split("\n").filter((p) => p.includes(`${path.sep}node_modules${path.sep}`));
const packages = [...new Set([...listed, path.join(root, "node_modules", "@tensorflow", "tfjs-backend-webgpu")])]
  .map((dir) => path.relative(path.join(root, "node_modules"), dir))
  .filter((name) => !SKIP.has(name) && !name.startsWith(`..${path.sep}`) && fs.existsSync(path.join(root, "node_modules", name)));

/** Whether a file of package `pkg` (path relative to the package) is needed to load or type-check it. */
function keep(pkg, rel, main) {
  if (rel === "package.json" || rel.endsWith(".d.ts")) return true;
  if (/\.(map|md|markdown|ts|tsx|flow|gz|cc|cpp|h|c)$/i.test(rel) || /(^|\/)(test|tests|docs?|examples?|\.github)\//.test(rel)) return false;
  if (pkg.startsWith("@tensorflow/")) {
    // Node loads each package's one-file build (its "main"); the per-file modules are for bundlers.
    if (rel.endsWith(".wasm")) return !rel.includes("threaded") && rel.startsWith("dist/");
    return rel === main;
  }
  if (pkg === "@tslab/typescript-for-tslab") return /^lib\/(typescript\.js|lib\.[^/]*\.d\.ts)$/.test(rel);
  if (pkg === "zeromq" && rel.startsWith("build/")) return rel.startsWith("build/linux/x64/") || rel === "build/manifest.json";
  return true;
}

function copyTree(from, to, pkg, main, base = from) {
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    const rel = path.relative(base, src).split(path.sep).join("/");
    if (entry.isDirectory()) {
      if (entry.name === "node_modules") continue; // nested packages are listed on their own
      copyTree(src, path.join(to, entry.name), pkg, main, base);
    } else if (entry.isFile() && keep(pkg, rel, main)) {
      fs.mkdirSync(to, { recursive: true });
      fs.copyFileSync(src, path.join(to, entry.name));
    }
  }
}

const stage = fs.mkdtempSync(path.join(os.tmpdir(), "gpu-modules-"));
try {
  for (const name of packages) {
    const dir = path.join(root, "node_modules", name);
    if (fs.lstatSync(dir).isSymbolicLink()) { // the workspace's own package: a link to lib/
      fs.mkdirSync(path.dirname(path.join(stage, "node_modules", name)), { recursive: true });
      fs.symlinkSync(fs.readlinkSync(dir), path.join(stage, "node_modules", name));
      continue;
    }
    const pkg = name.replace(/^(.*\/)?node_modules\//, "");
    const declared = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).main;
    const main = (typeof declared === "string" ? declared : "index.js").replace(/^\.\//, "");
    copyTree(dir, path.join(stage, "node_modules", name), pkg, main);
  }
  copyTree(path.join(root, "lib", "dist"), path.join(stage, "lib", "dist"), "fastbook-ts", "", path.join(root, "lib", "dist"));
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.tmp`;
  execFileSync("tar", ["-cf", tmp, "-I", "xz -T2 -9", "-C", stage, "node_modules", "lib"]);
  fs.renameSync(tmp, out);
  console.log(`${path.relative(process.cwd(), out)}: ${packages.length} packages, ${(fs.statSync(out).size / 2 ** 20).toFixed(1)} MiB`);
} finally {
  fs.rmSync(stage, { recursive: true, force: true });
}
