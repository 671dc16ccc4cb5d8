import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
// @ts-expect-error a plain .mjs script without declarations
import { clientSize, moduleGraph } from "../scripts/client-size.mjs";

// event-flare/client runs in browsers: the modules it loads from dist/ may import rxjs and each other, nothing else
// (no node: module, no Node built-in, no other package), and may not touch Node's globals.
const root = fileURLToPath(new URL("..", import.meta.url));
type Graph = { files: string[]; external: { specifier: string; from: string }[] };
const graphOf = moduleGraph as (entry: string) => Graph;

/** What keeps a module graph from running in a browser, one line per problem. */
function nodeLeaks({ files, external }: Graph): string[] {
  const imports = external
    .filter(({ specifier }) => specifier !== "rxjs")
    .map(({ specifier, from }) => `${from} imports ${specifier}`);
  const globals = files.flatMap((file) => {
    const code = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, ""); // comments may name them
    return [...code.matchAll(/\b(process|Buffer|require|__dirname|__filename|global|setImmediate)\b(?=\s*[.(])/g)].map(
      (match) => `${file} uses ${match[1]}`,
    );
  });
  return [...imports, ...globals];
}

describe("event-flare/client in the browser", () => {
  it("loads rxjs and its own modules only, and uses no Node global", () => {
    const graph = graphOf(join(root, "dist/esm/client/index.js"));
    expect(graph.files.length).toBeGreaterThan(1);
    expect(graph.files.some((file) => file.endsWith("/client/fromEventSource.js"))).toBe(true);
    expect(nodeLeaks(graph)).toEqual([]);
  });

  it("the check catches a Node import or global that sneaks in", () => {
    const dir = mkdtempSync(join(tmpdir(), "event-flare-graph-"));
    try {
      writeFileSync(join(dir, "index.js"), 'export { a } from "./a.js";\nimport "./b.js";\n');
      writeFileSync(join(dir, "a.js"), 'import { readFileSync } from "node:fs";\nexport const a = readFileSync;\n');
      writeFileSync(join(dir, "b.js"), "// process.env in a comment is fine\nexport const b = process.env.X;\n");
      expect(nodeLeaks(graphOf(join(dir, "index.js")))).toEqual([
        `${join(dir, "a.js")} imports node:fs`,
        `${join(dir, "b.js")} uses process`,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("states its size in the docs within 10% of the measured one (node scripts/client-size.mjs)", async () => {
    const { gzipped } = (await clientSize(root)) as { gzipped: number };
    const api = readFileSync(join(root, "docs/client.md"), "utf8");
    const stated = /about ([\d.]+) kB minified and gzipped/.exec(api)?.[1];
    expect(stated, "docs/client.md states the size as 'about N kB minified and gzipped'").toBeDefined();
    expect(Math.abs(Number(stated) * 1000 - gzipped) / gzipped).toBeLessThan(0.1);
  });
});
