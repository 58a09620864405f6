// Shift+Tab in a notebook shows an export's doc comment: every function, class, constant and type that
// the package exports, and every public method of its classes, has one, and none points at source files.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as path from "node:path";
import ts from "typescript";
import { slow } from "./helpers";

const ROOT = path.resolve(__dirname, "..");

/** Each export of lib/src/index.ts (and each public method of an exported class) with its doc comment. */
function exportedDocs(): { name: string; where: string; doc: string }[] {
  const index = path.join(ROOT, "lib", "src", "index.ts");
  const program = ts.createProgram([index], { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler, strict: true, skipLibCheck: true, noEmit: true });
  const checker = program.getTypeChecker();
  const out: { name: string; where: string; doc: string }[] = [];
  const add = (name: string, sym: ts.Symbol) => {
    const decl = sym.declarations?.[0];
    const file = decl?.getSourceFile();
    const where = file ? `${path.relative(ROOT, file.fileName)}:${file.getLineAndCharacterOfPosition(decl!.getStart()).line + 1}` : "?";
    out.push({ name, where, doc: ts.displayPartsToString(sym.getDocumentationComment(checker)).trim() });
  };
  for (let sym of checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(index)!)!)) {
    if (sym.flags & ts.SymbolFlags.Alias) sym = checker.getAliasedSymbol(sym);
    // tf itself: TensorFlow.js's namespace (re-exported through lib/src/tfjs-namespace.ts), documented upstream
    if (sym.flags & ts.SymbolFlags.ValueModule || sym.declarations?.[0]?.getSourceFile().fileName.includes("node_modules")) continue;
    add(sym.name, sym);
    if (!(sym.flags & ts.SymbolFlags.Class) || !sym.members) continue;
    sym.members.forEach((m) => {
      const d = m.declarations?.[0];
      if (!d || !(m.flags & (ts.SymbolFlags.Method | ts.SymbolFlags.GetAccessor))) return;
      if (ts.getCombinedModifierFlags(d as ts.Declaration) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) return;
      add(`${sym.name}.${m.name}`, m);
    });
  }
  return out;
}

test("every export of the package and every public method of its classes has a doc comment, without source paths", slow, () => {
  const docs = exportedDocs();
  assert.ok(docs.length > 300, `only ${docs.length} exports found: is lib/src/index.ts read?`);
  const missing = docs.filter((d) => !d.doc).map((d) => `${d.name} (${d.where})`);
  assert.deepEqual(missing, [], "exports without a doc comment");
  const withPaths = docs.filter((d) => /\b[\w-]+\/[\w./-]+\.ts\b/.test(d.doc)).map((d) => `${d.name}: ${d.doc.slice(0, 80)}`);
  assert.deepEqual(withPaths, [], "doc comments that name source files");
});
