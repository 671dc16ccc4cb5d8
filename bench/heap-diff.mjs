// Where idle-connection memory goes: diffs two V8 heap snapshots of one server child (taken by
// `node bench/run.mjs --mem-only --heap-snapshot`: "before" connecting, "after" N idle streams) and prints,
// per constructor / object kind, how many objects and how many self bytes each connection added.
//
//   node --max-old-space-size=8192 bench/heap-diff.mjs <before.heapsnapshot> <after.heapsnapshot> <N> [top]
import { readFileSync } from "node:fs";

function summarize(file) {
  const snap = JSON.parse(readFileSync(file, "utf8"));
  const meta = snap.snapshot.meta;
  const fields = meta.node_fields;
  const types = meta.node_types[0];
  const stride = fields.length;
  const iType = fields.indexOf("type");
  const iName = fields.indexOf("name");
  const iSize = fields.indexOf("self_size");
  const { nodes, strings } = snap;
  const byKey = new Map();
  let total = 0;
  for (let i = 0; i < nodes.length; i += stride) {
    const type = types[nodes[i + iType]];
    let name = strings[nodes[i + iName]];
    // Group strings, code and numbers by kind; objects and closures by constructor or function name.
    if (type === "string" || type === "concatenated string" || type === "sliced string") name = "(string)";
    else if (type === "code") name = "(code)";
    else if (type === "number" || type === "bigint") name = `(${type})`;
    else if (type === "array") name = `(array) ${name.startsWith("(") ? name : ""}`.trim();
    else if (type === "hidden") name = `(hidden) ${name}`;
    else if (type === "closure") name = `(closure) ${name || "anonymous"}`;
    else if (type === "native") name = `(native) ${name}`;
    else if (type === "object shape") name = "(object shape)";
    else if (type === "synthetic") continue;
    const size = nodes[i + iSize];
    total += size;
    const entry = byKey.get(name);
    if (entry === undefined) byKey.set(name, { count: 1, size });
    else {
      entry.count += 1;
      entry.size += size;
    }
  }
  return { byKey, total };
}

const [beforeFile, afterFile, nText, topText] = process.argv.slice(2);
if (afterFile === undefined || nText === undefined) {
  process.stderr.write("usage: node bench/heap-diff.mjs <before.heapsnapshot> <after.heapsnapshot> <N> [top]\n");
  process.exit(2);
}
const n = Number(nText);
const top = Number(topText ?? 40);
const before = summarize(beforeFile);
const after = summarize(afterFile);
const rows = [];
for (const [name, a] of after.byKey) {
  const b = before.byKey.get(name) ?? { count: 0, size: 0 };
  const dSize = a.size - b.size;
  const dCount = a.count - b.count;
  if (dSize !== 0 || dCount !== 0) rows.push({ name, perConnCount: dCount / n, perConnBytes: dSize / n });
}
rows.sort((p, q) => q.perConnBytes - p.perConnBytes);
const totalPerConn = (after.total - before.total) / n;
console.log(`self bytes per connection (snapshot total): ${totalPerConn.toFixed(0)}`);
console.log("| objects / conn | bytes / conn | constructor or kind |");
console.log("|--:|--:|---|");
for (const r of rows.slice(0, top)) {
  console.log(
    `| ${r.perConnCount.toFixed(2)} | ${r.perConnBytes.toFixed(0)} | ${r.name.replace(/\|/g, "\\|").slice(0, 90)} |`,
  );
}
