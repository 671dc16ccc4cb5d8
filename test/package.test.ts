import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// What a user gets: `npm pack` (which runs prepack, the build) on a copy of the working tree, then `npm install` of
// the tarball into a fresh project with only rxjs beside it (and @types/node, types only, for the server consumers'
// type check), then ESM/CJS loads of every subpath and a strict type check of their consumers with no skipLibCheck.
// event-flare/redis needs its optional peer `redis`: without it the import fails naming the package; the last test
// installs redis and checks that subpath too. The copy keeps the build away from the repo's dist/, which other test
// files use while this one runs.
const root = fileURLToPath(new URL("..", import.meta.url));
const require = createRequire(import.meta.url);
const tsc = require.resolve("typescript/bin/tsc");
const versionOf = (name: string): string =>
  (JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;

// A nested npm must not take the outer `npm test`'s package or prefix for its own.
const env = Object.fromEntries(
  Object.entries(process.env).filter(
    ([key]) => !/^npm_(package_|lifecycle_|command$|config_local_prefix$|config_call$)/i.test(key),
  ),
);

/** Runs a command; on failure, throws with everything it printed (tsc prints its errors on stdout). */
function run(command: string, args: string[], cwd: string): string {
  try {
    return execFileSync(command, args, { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(" ")} failed in ${cwd}:\n${stdout ?? ""}${stderr ?? ""}`);
  }
}

/** Every file under `dir`, as paths relative to it with "/" separators. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((path) => statSync(join(dir, path)).isFile())
    .map((path) => path.split(sep).join("/"));
}

/** True when `path` exists inside the installed package (not beside it). */
function inPackage(path: string): boolean {
  const rel = relative(pkg, path);
  return rel !== "" && !rel.startsWith("..") && statSync(path, { throwIfNoEntry: false }) !== undefined;
}

let work: string;
let app: string;
let pkg: string; // the installed package: app/node_modules/event-flare
let packed: string[]; // the tarball's file list, as npm pack reports it

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "event-flare-package-"));

  // The working tree as git sees it (tracked and untracked, minus ignored files such as dist and node_modules).
  const checkout = join(work, "checkout");
  const tree = run("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], root).split("\0");
  const isFile = (path: string): boolean => lstatSync(join(root, path), { throwIfNoEntry: false })?.isFile() === true;
  for (const file of tree.filter((path) => path !== "" && path !== "node_modules" && isFile(path))) {
    mkdirSync(dirname(join(checkout, file)), { recursive: true });
    copyFileSync(join(root, file), join(checkout, file));
  }
  symlinkSync(join(root, "node_modules"), join(checkout, "node_modules"), "dir"); // the build's typescript

  const report = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", work], checkout)) as {
    filename: string;
    files: { path: string }[];
  }[];
  const [tarball] = report;
  if (tarball === undefined) throw new Error("npm pack reported no tarball");
  packed = tarball.files.map((file) => file.path);

  app = join(work, "app");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), `${JSON.stringify({ name: "consumer-app", private: true })}\n`);
  run(
    "npm",
    [
      "install",
      "--no-audit",
      "--no-fund",
      "--prefer-offline",
      join(work, tarball.filename),
      `rxjs@${versionOf("rxjs")}`,
      `@types/node@${versionOf("@types/node")}`,
      `fastify@${versionOf("fastify")}`, // the optional peer, for the event-flare/fastify consumer
    ],
    app,
  );
  pkg = join(app, "node_modules", "event-flare");
}, 120_000);

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

/** Runs a Node script in the app, ESM (`.mjs`) or CommonJS (`.cjs`), and returns its output lines. */
function runIn(kind: "mjs" | "cjs", code: string): string[] {
  const file = join(app, `probe-${Math.random().toString(36).slice(2)}.${kind}`);
  writeFileSync(file, code);
  try {
    return run(process.execPath, [file], app).trim().split("\n");
  } finally {
    rmSync(file);
  }
}

/** The error a Node script in the app dies with: its stderr. */
function failureIn(kind: "mjs" | "cjs", code: string): string {
  try {
    runIn(kind, code);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`expected the ${kind} script to fail:\n${code}`);
}

const strictCheck = ["--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext"];

describe("the packed tarball, installed in a fresh project", () => {
  it("imports every subpath from ESM: ., ./client, and ./redis only with redis installed", () => {
    const [resolved, types, codes, client, clientFile] = runIn(
      "mjs",
      `import { BroadcastStream, EVENT_FLARE_ERROR_CODES, EventFlareError, Session } from "event-flare";
       import { fromEventSource } from "event-flare/client";
       console.log(import.meta.resolve("event-flare"));
       console.log(typeof Session, typeof BroadcastStream, new EventFlareError("INVALID_OPTION", "m").code);
       console.log(EVENT_FLARE_ERROR_CODES.length);
       console.log(typeof fromEventSource);
       console.log(import.meta.resolve("event-flare/client"));`,
    );
    expect(fileURLToPath(resolved ?? "")).toBe(join(pkg, "dist", "esm", "index.js"));
    expect(types).toBe("function function INVALID_OPTION");
    expect(Number(codes)).toBeGreaterThan(0);
    expect(client).toBe("function");
    expect(fileURLToPath(clientFile ?? "")).toBe(join(pkg, "dist", "esm", "client", "index.js"));
    // redis is an optional peer: without it, event-flare/redis fails to load and the error names the package.
    expect(failureIn("mjs", `await import("event-flare/redis");`)).toMatch(/Cannot find (package|module) 'redis'/);
  });

  it("requires every subpath from CommonJS: ., ./client, and ./redis only with redis installed", () => {
    const [resolved, types, client, clientFile] = runIn(
      "cjs",
      `const { BroadcastStream, EventFlareError, Session } = require("event-flare");
       const { fromEventSource } = require("event-flare/client");
       console.log(require.resolve("event-flare"));
       console.log(typeof Session, typeof BroadcastStream, new EventFlareError("INVALID_OPTION", "m").code);
       console.log(typeof fromEventSource);
       console.log(require.resolve("event-flare/client"));`,
    );
    expect(resolved).toBe(join(pkg, "dist", "cjs", "index.js"));
    expect(types).toBe("function function INVALID_OPTION");
    expect(client).toBe("function");
    expect(clientFile).toBe(join(pkg, "dist", "cjs", "client", "index.js"));
    expect(failureIn("cjs", `require("event-flare/redis");`)).toMatch(/Cannot find (package|module) 'redis'/);
  });

  it("imports event-flare/fetch, /http2 and /fastify from ESM and requires them from CommonJS", () => {
    const subpaths = { fetch: "fromRequest", http2: "fromHttp2Stream", fastify: "eventFlare" } as const;
    for (const [subpath, name] of Object.entries(subpaths)) {
      const [esmType, esmFile] = runIn(
        "mjs",
        `const m = await import("event-flare/${subpath}");
         console.log(typeof m.${name});
         console.log(import.meta.resolve("event-flare/${subpath}"));`,
      );
      expect([subpath, esmType]).toEqual([subpath, "function"]);
      expect(fileURLToPath(esmFile ?? "")).toBe(join(pkg, "dist", "esm", subpath, "index.js"));
      const [cjsType, cjsFile] = runIn(
        "cjs",
        `console.log(typeof require("event-flare/${subpath}").${name});
         console.log(require.resolve("event-flare/${subpath}"));`,
      );
      expect([subpath, cjsType]).toEqual([subpath, "function"]);
      expect(cjsFile).toBe(join(pkg, "dist", "cjs", subpath, "index.js"));
    }
  });

  it("type-checks ESM and CommonJS consumers with --strict and the library check on", () => {
    for (const consumer of [
      "consumer.mts",
      "consumer.cts",
      "transports.mts",
      "transports.cts",
      "client.mts",
      "client.cts",
    ]) {
      copyFileSync(join(root, "test", "package", consumer), join(app, consumer));
    }
    expect(strictCheck).not.toContain("--skipLibCheck");
    // tsc exits non-zero on any error, in the consumers or in the shipped .d.ts files; run() then throws with it.
    run(
      process.execPath,
      [tsc, ...strictCheck, "--types", "node", "consumer.mts", "consumer.cts", "transports.mts"],
      app,
    );
    // On its own, as a CommonJS project compiles it: event-flare/fastify adds reply.sse to Fastify's types, and a
    // program that loads both builds' declarations gets both additions, one returning each build's Session.
    run(process.execPath, [tsc, ...strictCheck, "--types", "node", "transports.cts"], app);
    // The client as a browser sees it: the DOM library and no Node types at all.
    const browser = {
      compilerOptions: { strict: true, noEmit: true, module: "nodenext", lib: ["es2022", "dom"], types: [] },
      files: ["client.mts", "client.cts"],
    };
    writeFileSync(join(app, "tsconfig.browser.json"), JSON.stringify(browser));
    run(process.execPath, [tsc, "-p", "tsconfig.browser.json"], app);
  });

  it("with redis installed, imports event-flare/redis from ESM and CommonJS and type-checks its consumers", () => {
    run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", `redis@${versionOf("redis")}`], app);
    expect(
      runIn("mjs", `const m = await import("event-flare/redis"); console.log(typeof m.createRedisBackplane);`),
    ).toEqual(["function"]);
    expect(runIn("cjs", `console.log(typeof require("event-flare/redis").createRedisBackplane);`)).toEqual([
      "function",
    ]);
    for (const consumer of ["redis.mts", "redis.cts"]) {
      copyFileSync(join(root, "test", "package", consumer), join(app, consumer));
    }
    run(process.execPath, [tsc, ...strictCheck, "--types", "node", "redis.mts", "redis.cts"], app);
  }, 120_000);

  it("ships the build, its sources, the docs and the examples, and nothing else", () => {
    const unexpected = packed.filter(
      (path) =>
        !/^(dist|src|docs|examples)\//.test(path) &&
        !["package.json", "README.md", "CHANGELOG.md", "LICENSE"].includes(path),
    );
    expect(unexpected).toEqual([]);
    expect(packed.filter((path) => /\.test\.|(^|\/)(test|bench|node_modules)\//.test(path))).toEqual([]);
    const wanted = ["dist/esm/index.js", "dist/cjs/index.js", "src/index.ts", "examples/node-http/server.mjs"];
    expect(wanted.filter((path) => !packed.includes(path))).toEqual([]);
  });

  it("runs no lifecycle script when installed, and says where it comes from", () => {
    const manifest = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")) as Record<string, unknown> & {
      scripts?: Record<string, string>;
    };
    const installScripts = ["preinstall", "install", "postinstall", "prepare"];
    expect(Object.keys(manifest.scripts ?? {}).filter((name) => installScripts.includes(name))).toEqual([]);
    expect(manifest).toHaveProperty("repository.url");
    expect(manifest).toHaveProperty("homepage");
    expect(manifest).toHaveProperty("bugs");
  });

  it("ships the sources every source map points at", () => {
    const maps = filesUnder(pkg).filter((path) => path.endsWith(".map"));
    expect(maps.length).toBeGreaterThan(0);
    const missing = maps.flatMap((map) => {
      const { sources, sourceRoot } = JSON.parse(readFileSync(join(pkg, map), "utf8")) as {
        sources: string[];
        sourceRoot?: string;
      };
      return sources
        .map((source) => resolve(dirname(join(pkg, map)), sourceRoot ?? "", source))
        .filter((source) => !inPackage(source))
        .map((source) => `${map} -> ${relative(pkg, source)}`);
    });
    expect(missing).toEqual([]);
  });

  it("ships what the README and the docs link to", () => {
    const pages = ["README.md", "CHANGELOG.md", ...filesUnder(pkg).filter((path) => /^docs\/.*\.md$/.test(path))];
    const links = pages.flatMap((page) =>
      [...readFileSync(join(pkg, page), "utf8").matchAll(/\]\(([^)\s]+)\)/g)]
        .map((match) => match[1] ?? "")
        .filter((target) => !/^([a-z][a-z0-9+.-]*:|#)/i.test(target))
        .map((target) => ({ page, target, path: resolve(dirname(join(pkg, page)), target.split("#")[0] ?? "") })),
    );
    expect(links.filter(({ page, target }) => page === "README.md" && target.startsWith("examples/"))).not.toEqual([]);
    expect(links.filter(({ path }) => !inPackage(path)).map(({ page, target }) => `${page}: ${target}`)).toEqual([]);
  });
});
