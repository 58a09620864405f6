// Executes every notebook on the tslab kernel, as `npm start` does, and checks the chapter's numbers
// in what the executed notebooks show (test/notebook-checks.ts).
import { test } from "node:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { skipUnlessMnist } from "./helpers";
import { NOTEBOOKS, runAndCheck } from "./notebook-checks";

for (const file of fs.readdirSync(NOTEBOOKS).filter((f) => f.endsWith(".ipynb")).sort()) {
  test(`notebook ${file} runs without errors and shows the chapter's results`, async (t) => {
    const skip = await skipUnlessMnist();
    if (skip) return t.skip(skip);
    const { checked } = await runAndCheck(file);
    if (!checked) t.diagnostic(`no extra checks for ${path.basename(file, ".ipynb")}`);
  });
}
