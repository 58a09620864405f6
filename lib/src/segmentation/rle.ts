// Kaggle's run-length codes for masks: pixels numbered from 1 down each column, then across (column-major),
// and the mask written as pairs "start length", one pair per run of salt pixels; "" for a mask without salt.
// Runs continue from the bottom of one column to the top of the next, as numpy's flatten(order="F") does.
import * as fs from "node:fs";
import { tf } from "../tf";

/** A binary mask, row by row: `data[y * width + x]` is 1 for salt, 0 otherwise. */
export interface Mask {
  height: number;
  width: number;
  data: Uint8Array;
}

/** A mask from a 2-D tensor ([h, w] or [h, w, 1]), nested rows, or a Mask; any nonzero value counts as 1. */
export function toMask(m: Mask | tf.Tensor | number[][]): Mask {
  if (m instanceof tf.Tensor) {
    if (!(m.rank === 2 || (m.rank === 3 && m.shape[2] === 1))) {
      throw new Error(`A mask tensor must be [height, width] or [height, width, 1]; got [${m.shape}].`);
    }
    const [height, width] = m.shape as [number, number];
    return { height, width, data: Uint8Array.from(m.dataSync() as ArrayLike<number>, (v) => (v !== 0 ? 1 : 0)) };
  }
  if (Array.isArray(m)) {
    const height = m.length, width = m[0]?.length ?? 0;
    const bad = m.findIndex((row) => row.length !== width);
    if (bad >= 0) throw new Error(`A mask's rows must have one length: row 0 has ${width} values, row ${bad} has ${m[bad]!.length}.`);
    return { height, width, data: Uint8Array.from(m.flat(), (v) => (v !== 0 ? 1 : 0)) };
  }
  if (m.data.length !== m.height * m.width) {
    throw new Error(`A ${m.width}x${m.height} mask needs ${m.height * m.width} values; it has ${m.data.length}.`);
  }
  return m;
}

/**
 * Kaggle's run-length code of a mask: "start length" pairs over the pixels numbered from 1 down each column,
 * then across; "" when the mask is empty. E.g. a 3x3 mask whose middle column is set is "4 3".
 */
export function rleEncode(mask: Mask | tf.Tensor | number[][]): string {
  const { height, width, data } = toMask(mask);
  const parts: number[] = [];
  let start = 0; // 1-based number of the current run's first pixel; 0 outside a run
  for (let x = 0, p = 1; x < width; x++) {
    for (let y = 0; y < height; y++, p++) {
      const on = data[y * width + x] !== 0;
      if (on && start === 0) start = p;
      else if (!on && start !== 0) parts.push(start, p - start), start = 0;
    }
  }
  if (start !== 0) parts.push(start, height * width + 1 - start);
  return parts.join(" ");
}

/**
 * The mask a run-length code describes, `height` x `width` (101 x 101 for TGS salt). The code must be
 * whole-number pairs, each run inside the image, in increasing order without overlaps (as Kaggle requires).
 */
export function rleDecode(code: string, height: number, width: number): Mask {
  for (const [name, v] of [["height", height], ["width", width]] as const) {
    if (!(Number.isInteger(v) && v > 0)) throw new Error(`rleDecode: ${name} must be a positive whole number; got ${v}.`);
  }
  const data = new Uint8Array(height * width);
  const words = code.trim() === "" ? [] : code.trim().split(/\s+/);
  const shown = code.length > 60 ? `${code.slice(0, 57)}...` : code;
  if (words.length % 2 !== 0) {
    throw new Error(`rleDecode: "${shown}" has ${words.length} numbers; a run-length code is pairs "start length".`);
  }
  const total = height * width;
  let end = 0; // the last pixel of the previous run
  for (let i = 0; i < words.length; i += 2) {
    const start = Number(words[i]), length = Number(words[i + 1]);
    if (!/^\d+$/.test(words[i]!) || !/^\d+$/.test(words[i + 1]!) || start < 1 || length < 1) {
      throw new Error(`rleDecode: pair ${i / 2 + 1} of "${shown}" is "${words[i]} ${words[i + 1]}"; starts count from 1 ` +
        "and lengths are whole numbers of at least 1.");
    }
    if (start <= end) {
      throw new Error(`rleDecode: the run at ${start} (pair ${i / 2 + 1}) starts at or before the end of the previous one ` +
        `(${end}); runs must be in increasing order without overlaps.`);
    }
    if (start + length - 1 > total) {
      throw new Error(`rleDecode: the run "${start} ${length}" (pair ${i / 2 + 1}) ends at pixel ${start + length - 1}, past ` +
        `the ${total} pixels of a ${width}x${height} mask.`);
    }
    for (let p = start - 1; p < start - 1 + length; p++) data[(p % height) * width + Math.floor(p / height)] = 1;
    end = start + length - 1;
  }
  return { height, width, data };
}

/** The fields of one CSV line (plain values, or double-quoted ones with "" for a quote). */
function csvFields(line: string): string[] {
  const fields: string[] = [];
  for (let i = 0; i <= line.length;) {
    if (line[i] === '"') {
      let v = "";
      for (i++; i < line.length; i++) {
        if (line[i] === '"' && line[i + 1] === '"') v += '"', i++;
        else if (line[i] === '"') break;
        else v += line[i];
      }
      fields.push(v);
      i += 2; // the closing quote and the comma
    } else {
      const comma = line.indexOf(",", i);
      const stop = comma < 0 ? line.length : comma;
      fields.push(line.slice(i, stop));
      i = stop + 1;
    }
  }
  return fields;
}

/**
 * A CSV file of `id,<column>` rows (TGS's train.csv: `id,rle_mask`; depths.csv: `id,z`) as a Map from id
 * to the column's text, in file order. The header must name `id` and `column`.
 */
export function readIdCsv(file: string, column: string): Map<string, string> {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new Error(`Cannot read ${file}: ${(e as Error).message}`);
  }
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/).filter((l) => l.trim() !== "");
  const header = csvFields(lines[0] ?? "").map((h) => h.trim());
  const [idCol, valueCol] = [header.indexOf("id"), header.indexOf(column)];
  if (idCol < 0 || valueCol < 0) {
    throw new Error(`${file}: the header is "${lines[0] ?? ""}"; expected columns id and ${column} (e.g. "id,${column}").`);
  }
  const rows = new Map<string, string>();
  lines.slice(1).forEach((line, i) => {
    const fields = csvFields(line);
    const id = fields[idCol]?.trim();
    if (!id) throw new Error(`${file}, line ${i + 2}: no id in "${line}".`);
    if (rows.has(id)) throw new Error(`${file}, line ${i + 2}: id ${id} appears a second time.`);
    rows.set(id, (fields[valueCol] ?? "").trim());
  });
  return rows;
}

/** train.csv (or a submission): image id -> run-length code ("" for no salt), in file order. */
export function readRleCsv(file: string): Map<string, string> {
  return readIdCsv(file, "rle_mask");
}

/**
 * Writes a submission in Kaggle's format: the header `id,rle_mask`, then one line per image with its
 * run-length code (empty after the comma when no salt is predicted). Masks are encoded here when given as
 * masks rather than codes.
 */
export function writeSubmission(file: string, rows: Iterable<[string, string | Mask]>): number {
  const lines = ["id,rle_mask"];
  const seen = new Set<string>();
  for (const [id, m] of rows) {
    if (!/^[^,"\s]+$/.test(id)) throw new Error(`writeSubmission: the id "${id}" cannot be written in a CSV row as it is.`);
    if (seen.has(id)) throw new Error(`writeSubmission: the id ${id} is given twice.`);
    seen.add(id);
    lines.push(`${id},${typeof m === "string" ? m : rleEncode(m)}`);
  }
  fs.writeFileSync(file, lines.join("\n") + "\n");
  return seen.size;
}
