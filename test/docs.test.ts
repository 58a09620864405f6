// The project's words point at things that exist: every file path and npm script named in the READMEs, docs/
// and scripts/. Paths that a run creates (reports/, lib/dist/, .gpu/, data sets, caches) are not checked.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..");
const TOP = ["lib", "scripts", "test", "notebooks", "docs", "bench", "data", ".ci"];
const MADE_BY_RUNS = /^(reports|lib\/dist|\.gpu|\.jupyter|bench\/cache|node_modules|data\/(?!README\.md$))/;
const PLACEHOLDER = /[<>*{}$]|\.\.\./;

function filesUnder(dir: string, keep: (f: string) => boolean): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)))
    .filter((f) => !f.includes("node_modules") && keep(f));
}

/** The texts checked: every Markdown file of the project, and every script. */
function texts(): string[] {
  const md = ["README.md", "lib/README.md", ...filesUnder("docs", (f) => f.endsWith(".md")), ...filesUnder("bench", (f) => f.endsWith(".md"))];
  return [...md, ...filesUnder("scripts", (f) => /\.(ts|mts|mjs|py|sh|md|j2)$/.test(f))];
}

/** Project paths a text names: `lib/src/x.ts`, [links](docs/x.md), scripts/gpu/check.sh, ... */
export function namedPaths(text: string, file: string): string[] {
  const found = new Set<string>();
  const top = TOP.map((d) => d.replace(".", "\\.")).join("|");
  // A path ends where path characters end; one that runs on into a placeholder (`test/images/<id>.png`, a
  // folder of someone else's layout) is not checked.
  for (const m of text.matchAll(new RegExp(`(?<![\\w./-])((?:${top})/[\\w./-]*[\\w/])(?![\\w/<>*{}$-]|\\.[\\w/<>*{}$-])`, "g"))) found.add(m[1]);
  if (file.endsWith(".md")) {
    for (const m of text.matchAll(/\]\(([^)#\s]+)\)/g)) {
      if (/^[a-z]+:/.test(m[1])) continue; // a URL
      found.add(path.relative(ROOT, path.resolve(ROOT, path.dirname(file), m[1])));
    }
  }
  return [...found].filter((p) => !PLACEHOLDER.test(p) && !MADE_BY_RUNS.test(p));
}

test("every file path named in the READMEs, docs/ and scripts/ exists", () => {
  const missing: string[] = [];
  for (const file of texts()) {
    for (const p of namedPaths(fs.readFileSync(path.join(ROOT, file), "utf8"), file)) {
      if (!fs.existsSync(path.join(ROOT, p.replace(/\/$/, "")))) missing.push(`${file}: ${p}`);
    }
  }
  assert.deepEqual(missing, []);
});

test("every npm script named in the READMEs, docs/ and scripts/ exists", () => {
  const scripts = Object.keys((JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: object }).scripts);
  const missing: string[] = [];
  for (const file of texts()) {
    const text = fs.readFileSync(path.join(ROOT, file), "utf8");
    for (const m of text.matchAll(/\bnpm (?:run ([\w:-]+)|(start|test)\b)/g)) {
      const name = m[1] ?? m[2];
      if (!scripts.includes(name)) missing.push(`${file}: npm ${m[1] ? "run " : ""}${name}`);
    }
  }
  assert.deepEqual(missing, []);
});

test("the path finder sees code spans, links and paths in prose", () => {
  const text = "See `lib/src/x.ts`, [data](docs/data.md), scripts/gpu/check.sh and reports/<name>.html; not mylib/a.ts.";
  assert.deepEqual(namedPaths(text, "README.md").sort(), ["docs/data.md", "lib/src/x.ts", "scripts/gpu/check.sh"]);
  assert.deepEqual(namedPaths("[up](../lib/README.md)", "docs/x.md"), ["lib/README.md"]);
});
