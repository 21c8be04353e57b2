// Shared bits of the JavaScript client scenarios (js_scenario.mjs, js_document_scenario.mjs); see
// scenario.py for the Python twin. A step the server cannot run yet (an operation it answers with
// UnknownOperationException, among the ones still being built) is skipped with a printed note.

export const MAYBE_MISSING = ["BatchWriteItem", "BatchGetItem", "TransactWriteItems", "TransactGetItems"];

export const endpoint = process.argv[2];
if (!endpoint) {
  console.error(`usage: node ${process.argv[1]} ENDPOINT`);
  process.exit(2);
}

export const clientConfig = {
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "local", secretAccessKey: "local" },
};

export function tableName(client) {
  return `clients_${client}_${process.pid}`;
}

// 30 jazz songs, years 1990..2019, plays 0..4 (the batch-write step's items).
export function jazzSongs() {
  return Array.from({ length: 30 }, (_, i) => ({
    pk: `song#${String(i).padStart(2, "0")}`, sk: "v1", genre: "jazz", year: 1990 + i,
    plays: i % 5, title: `Song ${i}`,
  }));
}

export class Steps {
  constructor(client) {
    this.client = client;
    this.passed = 0;
    this.skipped = 0;
  }

  // Runs fn; returns true if it ran, false if it was skipped. maybeMissing: the operations
  // (from MAYBE_MISSING) whose UnknownOperationException turns into a skip.
  async step(name, fn, maybeMissing = []) {
    console.log(`[${this.client}] step: ${name}`);
    try {
      await fn();
    } catch (err) {
      const op = err?.name === "UnknownOperationException" && maybeMissing.length > 0
        ? maybeMissing.find((m) => String(err.message).includes(m)) ?? maybeMissing.join(" or ")
        : null;
      if (op === null) {
        console.log(`[${this.client}] FAILED step: ${name}: ${err?.name}: ${err?.message}`);
        throw err;
      }
      const note = `SKIP [${this.client}] step '${name}': the server answered ` +
        `UnknownOperationException (${op} is not implemented yet)`;
      console.log(note);
      this.skipped += 1;
      return false;
    }
    this.passed += 1;
    return true;
  }

  done() {
    console.log(`[${this.client}] scenario done: ${this.passed} steps ran, ${this.skipped} skipped`);
  }
}

export function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

// JSON with object keys sorted, so that equal items compare equal whatever their key order.
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v instanceof Set) return `set${canonical([...v].sort())}`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

export function checkEq(got, want, what) {
  const g = canonical(got);
  const w = canonical(want);
  if (g !== w) throw new Error(`${what}: got ${g}, want ${w}`);
}
