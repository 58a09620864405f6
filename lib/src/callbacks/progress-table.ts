// fastai's progress display: a table that gains a row per epoch and a bar for the current pass, updated
// in place in Jupyter; plain lines elsewhere.
import { tf } from "../tf";
import type { Learner } from "../learner";
import { defaults, type Callback } from "./core";
import { escapeHtml, newNotebookDisplay, type Display } from "../jupyter";
import type { EpochRecord } from "./recorder";

function formatTime(seconds: number): string {
  const s = Math.round(seconds);
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

function row(r: EpochRecord, metricNames: string[]): string[] {
  return [String(r.epoch), r.trainLoss.toFixed(6), r.validLoss.toFixed(6), ...metricNames.map((m) => r.metrics[m].toFixed(6)), formatTime(r.seconds)];
}

/** The live table of fastai's fit: a row per epoch and a bar for the current pass. A default callback. */
export class ProgressTable implements Callback {
  readonly name = "progress";
  readonly order = 10; // after the Recorder has written the epoch's row
  private table?: Display;
  private bar?: Display;
  private firstRow = 0;
  private started = 0;
  private lastBar = 0;
  private header: string[] = [];

  beforeFit(learn: Learner): void {
    this.header = ["epoch", "train_loss", "valid_loss", ...learn.metricNames, "time"];
    this.firstRow = learn.recorder.values.length;
    this.started = Date.now();
    this.table = newNotebookDisplay();
    this.bar = newNotebookDisplay();
    if (this.table) this.drawTable(learn);
    else console.log(this.header.join("  "));
  }

  afterBatch(learn: Learner): void {
    if (!this.bar || Date.now() - this.lastBar < 100) return;
    this.lastBar = Date.now();
    const total = (learn.training ? learn.dls.train : learn.dls.valid).length;
    const done = learn.batchIndex + 1;
    // The training loss is the number the Learner reads for this batch anyway.
    const loss = learn.training && learn.loss ? `, loss ${learn.lossValue.toFixed(4)}` : "";
    const label = `epoch ${learn.epoch + 1}/${learn.nEpoch}, ${learn.training ? "training" : "validating"} ${done}/${total}${loss}`;
    this.bar.html(`<div style="font-family:monospace"><progress value="${done}" max="${total}" style="width:300px;vertical-align:middle"></progress> ${escapeHtml(label)}</div>`);
  }

  afterEpoch(learn: Learner): void {
    if (this.table) this.drawTable(learn);
    else console.log(row(learn.recorder.values[learn.recorder.values.length - 1], learn.recorder.metricNames).join("  "));
  }

  afterFit(learn: Learner): void {
    const epochs = learn.recorder.values.length - this.firstRow;
    const s = learn.stopped;
    const stop = s ? `; ${s.reason === "error" ? "stopped by an error" : s.reason} in epoch ${s.epoch}/${learn.nEpoch}, ` +
      `after ${s.batchesDone} of ${s.batches} ${s.phase} batches` : "";
    const summary = `${epochs} epoch${epochs === 1 ? "" : "s"} in ${((Date.now() - this.started) / 1000).toFixed(1)} s on backend "${tf.getBackend()}"${stop}`;
    // In Jupyter the bar's display is updated in place, so this shows even when an interrupted cell has returned.
    if (this.table && epochs === 0) this.table.html(""); // a header without rows would look unfinished
    if (this.bar) this.bar.html(`<div style="font-family:monospace;color:${s ? "#a00" : "#555"}">${escapeHtml(summary)}</div>`);
    else console.log(summary);
  }

  private drawTable(learn: Learner): void {
    const rows = learn.recorder.values.slice(this.firstRow).map((r) => row(r, learn.recorder.metricNames));
    const th = this.header.map((h) => `<th style="text-align:right;padding:2px 8px">${h}</th>`).join("");
    const trs = rows.map((r) => `<tr>${r.map((c) => `<td style="text-align:right;padding:2px 8px">${c}</td>`).join("")}</tr>`).join("");
    this.table!.html(`<table style="border-collapse:collapse;font-family:monospace"><thead><tr>${th}</tr></thead><tbody>${trs}</tbody></table>`);
  }
}

defaults.callbacks.push(() => new ProgressTable());
