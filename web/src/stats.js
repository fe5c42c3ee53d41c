// Drift statistics in edgepack-web (runtime/stats.py): count scored records in the package's reference
// bins (profile.json, checksum-verified) and hand back windows of the same JSON shape the Python scorer
// writes, so `edgepack drift` merges a browser's or a Node service's windows with a gateway's.
//
//   const stats = await StatsCollector.open(scorer.package, { device: 'kiosk-7' });
//   await scorer.score(records, { stats });
//   const window = stats.take();   // the window so far, as JSON; counting starts again from zero
//
// The bin rule is runtime/profile.py's: a value's bin is the number of edges below it (e(i-1) < x <= e(i)).

import { PackageError } from './errors.js';
import { argmax } from './scorer.js';

const MAX_UNSEEN = 20;

function utc(ms) {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

class Numbers {
  constructor(entry) {
    this.edges = entry.edges;
    this.lo = entry.min ?? Infinity;
    this.hi = entry.max ?? -Infinity;
    this.counts = new Array(this.edges.length + 1).fill(0);
    this.missing = 0;
    this.below = 0;
    this.above = 0;
  }

  add(x) {
    if (x === null || x === undefined || Number.isNaN(x)) { this.missing += 1; return; }
    let bin = 0;
    while (bin < this.edges.length && this.edges[bin] < x) bin += 1;
    this.counts[bin] += 1;
    if (x < this.lo) this.below += 1;
    if (x > this.hi) this.above += 1;
  }

  toJSON() { return { counts: this.counts, missing: this.missing, below: this.below, above: this.above }; }
}

class Categories {
  constructor(entry) {
    this.index = new Map(entry.categories.map((c, i) => [c, i]));
    this.counts = new Array(entry.categories.length).fill(0);
    this.missing = 0;
    this.unseen = 0;
    this.names = new Map();
  }

  add(value) {
    if (value === null || value === undefined) { this.missing += 1; return; }
    const slot = this.index.get(value);
    if (slot !== undefined) { this.counts[slot] += 1; return; }
    this.unseen += 1;
    if (this.names.has(value) || this.names.size < MAX_UNSEEN) this.names.set(value, (this.names.get(value) ?? 0) + 1);
  }

  toJSON() {
    return { counts: this.counts, missing: this.missing, unseen: this.unseen, unseen_names: Object.fromEntries(this.names) };
  }
}

export class StatsCollector {
  /** The collector of a package: reads and verifies its profile.json. Throws PackageError when it has none. */
  static async open(pkg, { device = 'browser' } = {}) {
    const entry = pkg.manifest.reference_profile;
    if (!entry) {
      throw new PackageError(`package ${pkg.name} ${pkg.version} has no reference profile`, { where: pkg.where, fix: 'rebuild it with edgepack build' });
    }
    const profile = JSON.parse(new TextDecoder().decode(await pkg.verifiedFile(entry.file, entry.sha256, entry.size, null)));
    return new StatsCollector(pkg, profile, device);
  }

  constructor(pkg, profile, device) {
    this.package = { name: pkg.name, version: pkg.version, profile_sha256: pkg.manifest.reference_profile.sha256 };
    this.profile = profile;
    this.device = device;
    this.names = pkg.manifest.inputs.features.map((f) => f.name);
    this.reset();
  }

  reset() {
    const { features, outputs } = this.profile;
    this.features = this.names.map((n) => (features[n].kind === 'category' ? new Categories(features[n]) : new Numbers(features[n])));
    this.scores = outputs.scores ? Object.entries(outputs.scores).map(([c, e]) => [c, new Numbers(e)]) : null;
    this.labels = outputs.labels ? new Array(outputs.labels.counts.length).fill(0) : null;
    this.value = outputs.value ? new Numbers(outputs.value) : null;
    this.records = 0;
    this.scored = 0;
    this.rejected = 0;
    this.rejectedByField = {};
    this.start = Date.now();
  }

  /** Count one batch: checked rows (values in schema order), their raw outputs, and the rejections. */
  observe(rows, raw, rejections = []) {
    for (const row of rows) row.forEach((v, j) => this.features[j].add(v));
    if (raw?.probabilities && this.scores) {
      for (const p of raw.probabilities) {
        this.scores.forEach(([, acc], j) => acc.add(p[j]));
        this.labels[argmax(p)] += 1;
      }
    } else if (raw?.value && this.value) {
      for (const v of raw.value) this.value.add(v);
    }
    this.scored += rows.length;
    this.records += rows.length + rejections.length;
    this.rejected += rejections.length;
    for (const r of rejections) {
      const key = r.field ?? '(record)';
      this.rejectedByField[key] = (this.rejectedByField[key] ?? 0) + 1;
    }
  }

  /** The window so far, in the JSON shape of runtime/stats.py. */
  window() {
    const outputs = {};
    if (this.scores) {
      outputs.scores = Object.fromEntries(this.scores.map(([c, acc]) => [c, acc.toJSON()]));
      outputs.labels = this.labels;
    }
    if (this.value) outputs.value = this.value.toJSON();
    return {
      format: 'edgepack-stats', version: 1, package: { ...this.package }, device: this.device,
      start: utc(this.start), end: utc(Date.now()), records: this.records, scored: this.scored, rejected: this.rejected,
      rejected_by_field: { ...this.rejectedByField },
      features: Object.fromEntries(this.names.map((n, j) => [n, this.features[j].toJSON()])), outputs,
    };
  }

  /** The window so far; counting starts again from zero. */
  take() {
    const out = this.window();
    this.reset();
    return out;
  }
}
