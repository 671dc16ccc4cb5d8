import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import { EVENT_FLARE_ERROR_CODES, type EventFlareErrorCode } from "../src/index.js";

const apiMd = readFileSync(new URL("../docs/api.md", import.meta.url), "utf8");

/** The first column of the table under `## Errors` in docs/api.md, without the backticks. */
function documentedErrorCodes(markdown: string): string[] {
  const lines = markdown.split("\n");
  const heading = lines.indexOf("## Errors");
  if (heading < 0) throw new Error('docs/api.md has no "## Errors" section');
  const end = lines.findIndex((line, i) => i > heading && line.startsWith("## "));
  const section = lines.slice(heading + 1, end < 0 ? undefined : end);
  const rows = section.filter((line) => line.startsWith("|")).slice(2); // skip the header and the |---| line
  if (rows.length === 0) throw new Error("the Errors section of docs/api.md has no table");
  return rows.map((row) => {
    const code = /^\|\s*`([A-Z_]+)`\s*\|/.exec(row)?.[1];
    if (code === undefined) throw new Error(`cannot read an error code from this row of docs/api.md: ${row}`);
    return code;
  });
}

describe("docs/api.md", () => {
  it("documents every error code, and only those", () => {
    const documented = documentedErrorCodes(apiMd);
    expect(new Set(documented).size, "a code is listed twice").toBe(documented.length);
    const codes: readonly string[] = EVENT_FLARE_ERROR_CODES;
    expect(
      codes.filter((code) => !documented.includes(code)),
      "codes missing from the table",
    ).toEqual([]);
    expect(
      documented.filter((code) => !codes.includes(code)),
      "codes in the table that do not exist",
    ).toEqual([]);
  });

  it("lists exactly the codes of the EventFlareErrorCode type (compile-time check)", () => {
    expectTypeOf<(typeof EVENT_FLARE_ERROR_CODES)[number]>().toEqualTypeOf<EventFlareErrorCode>();
    expect(new Set(EVENT_FLARE_ERROR_CODES).size).toBe(EVENT_FLARE_ERROR_CODES.length);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Every js/ts snippet in README.md and docs/*.md type-checks as written, against the built package.
//
// Each fenced block tagged js, javascript, ts or typescript becomes its own module (a virtual file, never written
// to disk), placed inside the repository so that `import ... from "event-flare"` resolves through package.json's
// "exports" self-reference to dist/ (built before vitest by `npm test`, or by test/globalSetup.ts) and "rxjs",
// "express" or "koa" resolve to node_modules, exactly as for a user. One program checks every block, for speed.
// A js block that uses require() and no import/export is checked as CommonJS (.cjs, the "require" condition).
//
// Snippets may use context they do not define (`req`, `res`, `session`, ...): SNIPPET_PRELUDE declares it. It
// must never declare what a snippet has to import itself; the canary test below enforces that.
//
// A block that is intentionally not standalone code opts out with `<!-- not-checked: reason -->` on the line
// right before its fence. Untagged, sh and text blocks are never checked.
// ---------------------------------------------------------------------------------------------------------------

const repoRoot = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
/** A directory that does not exist: the snippets live there in memory only. */
const virtualDir = `${repoRoot}/test/.docs-snippets`;

/**
 * Ambient context for snippets: variables a snippet uses without defining them, as the surrounding prose
 * implies. Never add an import's name here (rxjs operators, Session, BroadcastStream, http, express, Koa, ...).
 */
const SNIPPET_PRELUDE = `
declare const PORT: number;
declare const req: import("node:http").IncomingMessage;
declare const res: import("node:http").ServerResponse;
declare const app: import("express").Express;
declare const session: import("event-flare").Session;
declare const session1: import("event-flare").Session;
declare const session2: import("event-flare").Session;
declare const broadcastStream: import("event-flare").BroadcastStream;
declare const prices$: import("rxjs").Observable<{ symbol: string; price: number }>;
declare const quotes$: import("rxjs").Observable<{ symbol: string; price: number }>;
declare const audit: { log(...values: unknown[]): void };
declare const source: EventSource;
declare const user: { id: string };
declare function render(data: unknown): void;
declare function isPro(session: import("event-flare").Session): boolean;
declare function authenticate(req: import("node:http").IncomingMessage): { id: string };
declare function reloadSnapshot(): void;
`;

/** Names a snippet must import itself: each must be unknown to the checker without an import. */
const MUST_BE_IMPORTED = [
  "from",
  "of",
  "map",
  "filter",
  "switchMap",
  "mergeMap",
  "share",
  "EMPTY",
  "interval",
  "merge",
  "Observable",
  "Subject",
  "Session",
  "BroadcastStream",
  "EventFlareError",
  "isEventFlareError",
  "http",
  "express",
  "Koa",
  "PassThrough",
];

interface Snippet {
  /** The Markdown file, relative to the repository root. */
  file: string;
  /** 1-based line of the opening fence. */
  fenceLine: number;
  lang: string;
  code: string;
  /** The reason given in `<!-- not-checked: reason -->`, when the block opted out. */
  notChecked?: string | undefined;
}

const CHECKED_LANGS: Record<string, "js" | "ts"> = { js: "js", javascript: "js", ts: "ts", typescript: "ts" };
const NOT_CHECKED = /^\s*<!--\s*not-checked:(.*?)-->\s*$/;

/** The fenced code blocks of a Markdown text (CommonMark fences: ``` or ~~~, indented up to 3 spaces). */
function extractSnippets(file: string, markdown: string): Snippet[] {
  const lines = markdown.split(/\r?\n/);
  const snippets: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^( {0,3})(`{3,}|~{3,})\s*([^\s`]*)/.exec(lines[i] ?? "");
    if (open === null) continue;
    const [, indent = "", fence = "", info = ""] = open;
    const close = new RegExp(`^ {0,3}${fence[0] === "`" ? "`" : "~"}{${fence.length},}\\s*$`);
    let end = i + 1;
    while (end < lines.length && !close.test(lines[end] ?? "")) end++;
    const body = lines.slice(i + 1, end).map((line) => line.replace(new RegExp(`^ {0,${indent.length}}`), ""));
    const optOut = NOT_CHECKED.exec(lines[i - 1] ?? "");
    snippets.push({
      file,
      fenceLine: i + 1,
      lang: info.toLowerCase(),
      code: `${body.join("\n")}\n`,
      notChecked: optOut ? (optOut[1] ?? "").trim() : undefined,
    });
    i = end;
  }
  return snippets;
}

/** `not-checked` comments that are not right before a fence, or give no reason: mistakes, reported as such. */
function misplacedOptOuts(file: string, markdown: string): string[] {
  const lines = markdown.split(/\r?\n/);
  const problems: string[] = [];
  lines.forEach((line, i) => {
    if (!line.includes("not-checked")) return;
    const match = NOT_CHECKED.exec(line);
    if (match === null) problems.push(`${file}:${i + 1}: write it as <!-- not-checked: reason -->`);
    else if ((match[1] ?? "").trim() === "") problems.push(`${file}:${i + 1}: not-checked needs a reason`);
    else if (!/^ {0,3}(`{3,}|~{3,})\s*(js|javascript|ts|typescript)\b/i.test(lines[i + 1] ?? ""))
      problems.push(`${file}:${i + 1}: not-checked must be on the line right before a js/ts fence`);
  });
  return problems;
}

function virtualName(snippet: Snippet): string {
  const commonJs = !/^\s*(import|export)\s/m.test(snippet.code) && /\brequire\s*\(/.test(snippet.code);
  const kind = CHECKED_LANGS[snippet.lang] ?? "ts";
  const ext = commonJs ? (kind === "js" ? "cjs" : "cts") : kind;
  return `${virtualDir}/${snippet.file.replaceAll("/", "__")}.L${snippet.fenceLine}.${ext}`;
}

interface CheckResult {
  /** Diagnostics of each checked snippet, formatted with Markdown file and line; empty when it type-checks. */
  problems: Map<Snippet, string[]>;
  /** Diagnostics of the prelude, the options, the global scope: the check itself is broken. */
  setup: string[];
  /** Names from MUST_BE_IMPORTED that the canary could use without an import. */
  leakedNames: string[];
}

function formatDiagnostic(diagnostic: ts.Diagnostic, where: (line: number) => number, label: string): string {
  const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n    ");
  const file = diagnostic.file;
  if (file === undefined || diagnostic.start === undefined) return `${label}: error TS${diagnostic.code}: ${message}`;
  const { line, character } = file.getLineAndCharacterOfPosition(diagnostic.start);
  const text = file.text.split("\n")[line] ?? "";
  return `${label.replace("%L", `${where(line)}:${character + 1}`)}: error TS${diagnostic.code}: ${message}\n      | ${text}`;
}

/** Type-checks every snippet (each its own module) plus the prelude and the canary, in one program. */
function checkSnippets(snippets: Snippet[]): CheckResult {
  const { options, errors } = ts.convertCompilerOptionsFromJson(
    {
      target: "ES2022",
      lib: ["ES2022", "DOM"], // DOM for the browser snippets (EventSource, document)
      module: "NodeNext",
      moduleResolution: "NodeNext",
      moduleDetection: "force", // every block is a module, even one without import/export
      types: ["node"],
      allowJs: true,
      checkJs: true,
      strict: false, // snippets leave out annotations a strict program would want
      esModuleInterop: true,
      skipLibCheck: true,
      noEmit: true,
    },
    repoRoot,
  );
  if (errors.length > 0) throw new Error(ts.formatDiagnostics(errors, ts.createCompilerHost({})));

  const files = new Map<string, string>();
  const byName = new Map<string, Snippet>();
  const preludeName = `${virtualDir}/prelude.d.ts`;
  const canaryName = `${virtualDir}/canary.ts`;
  files.set(preludeName, SNIPPET_PRELUDE);
  files.set(canaryName, MUST_BE_IMPORTED.map((name) => `${name};\n`).join(""));
  for (const snippet of snippets) {
    const name = virtualName(snippet);
    files.set(name, snippet.code);
    byName.set(name, snippet);
  }

  const host = ts.createCompilerHost(options, true);
  const { fileExists, readFile, getSourceFile, directoryExists } = host;
  host.getCurrentDirectory = () => repoRoot;
  host.fileExists = (name) => files.has(name) || fileExists.call(host, name);
  host.readFile = (name) => files.get(name) ?? readFile.call(host, name);
  host.directoryExists = (name) => name === virtualDir || (directoryExists?.call(host, name) ?? true);
  host.getSourceFile = (name, languageVersion, ...rest) => {
    const text = files.get(name);
    return text === undefined
      ? getSourceFile.call(host, name, languageVersion, ...rest)
      : ts.createSourceFile(name, text, languageVersion);
  };

  const program = ts.createProgram({ rootNames: [...files.keys()], options, host });
  const diagnosticsOf = (name: string): readonly ts.Diagnostic[] => {
    const sourceFile = program.getSourceFile(name);
    if (sourceFile === undefined) throw new Error(`${name} is not in the program`);
    return [...program.getSyntacticDiagnostics(sourceFile), ...program.getSemanticDiagnostics(sourceFile)];
  };

  const problems = new Map<Snippet, string[]>();
  for (const [name, snippet] of byName) {
    const label = `${snippet.file}:%L (${snippet.lang} block at line ${snippet.fenceLine})`;
    problems.set(
      snippet,
      diagnosticsOf(name).map((d) => formatDiagnostic(d, (line) => snippet.fenceLine + 1 + line, label)),
    );
  }
  const setup = [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...diagnosticsOf(preludeName),
  ].map((d) => formatDiagnostic(d, (line) => line + 1, "SNIPPET_PRELUDE:%L"));
  // "event-flare" must have resolved to the built package (import condition, and require for CommonJS blocks).
  const loaded = new Set(program.getSourceFiles().map((file) => file.fileName));
  for (const types of [
    "dist/esm/index.d.ts",
    ...([...files.keys()].some((f) => /\.c[jt]s$/.test(f)) ? ["dist/cjs/index.d.ts"] : []),
  ])
    if (!loaded.has(`${repoRoot}/${types}`)) setup.push(`"event-flare" did not resolve to ${types}`);
  const unknown = new Set(
    diagnosticsOf(canaryName)
      .map((d) => /^Cannot find name '([^']+)'/.exec(ts.flattenDiagnosticMessageText(d.messageText, "\n"))?.[1])
      .filter((name) => name !== undefined),
  );
  return { problems, setup, leakedNames: MUST_BE_IMPORTED.filter((name) => !unknown.has(name)) };
}

const markdownFiles = ["README.md", ...readdirSync(new URL("../docs", import.meta.url)).map((f) => `docs/${f}`)]
  .filter((file) => file.endsWith(".md"))
  .sort();
const markdown = new Map(markdownFiles.map((file) => [file, readFileSync(`${repoRoot}/${file}`, "utf8")]));
const allSnippets = markdownFiles.flatMap((file) => extractSnippets(file, markdown.get(file) ?? ""));
const checkedSnippets = allSnippets.filter((s) => s.lang in CHECKED_LANGS && s.notChecked === undefined);

describe("documented snippets", () => {
  let result: CheckResult;
  beforeAll(() => {
    result = checkSnippets(checkedSnippets);
  });

  it("finds the js/ts blocks of README.md and docs/*.md", () => {
    expect(markdownFiles).toContain("README.md");
    expect(markdownFiles).toContain("docs/api.md");
    expect(checkedSnippets.length).toBeGreaterThanOrEqual(15);
  });

  it("the check itself is sound: the prelude compiles and declares nothing a snippet must import", () => {
    expect(result.setup, "diagnostics of the snippet prelude or compiler options").toEqual([]);
    expect(result.leakedNames, "names a snippet could use without importing them").toEqual([]);
  });

  it("every not-checked opt-out gives a reason and sits right before a js/ts fence", () => {
    expect(markdownFiles.flatMap((file) => misplacedOptOuts(file, markdown.get(file) ?? ""))).toEqual([]);
  });

  it.each(markdownFiles)("%s: every js/ts block type-checks as written", (file) => {
    const failing = checkedSnippets
      .filter((snippet) => snippet.file === file)
      .flatMap((snippet) => result.problems.get(snippet) ?? [`${file}:${snippet.fenceLine}: not checked`]);
    if (failing.length > 0) {
      throw new Error(
        `${failing.length} error(s) in the js/ts blocks of ${file}; each block must type-check on its own, ` +
          `against the built package (import what it uses, or opt out with <!-- not-checked: reason -->):\n\n` +
          failing.join("\n\n"),
      );
    }
  });
});

describe("extractSnippets", () => {
  it("reads tagged fences, their line, opt-outs, and leaves other blocks to be skipped", () => {
    const md = [
      "# t", // 1
      "```sh", // 2
      "npm test", // 3
      "```", // 4
      "<!-- not-checked: a fragment -->", // 5
      "```js", // 6
      "x;", // 7
      "```", // 8
      "~~~~TypeScript title", // 9
      "const a = 1;", // 10
      "```", // 11
      "~~~~", // 12
      "```", // 13
      "event: x", // 14
      "```", // 15
    ].join("\n");
    expect(extractSnippets("f.md", md)).toEqual([
      { file: "f.md", fenceLine: 2, lang: "sh", code: "npm test\n", notChecked: undefined },
      { file: "f.md", fenceLine: 6, lang: "js", code: "x;\n", notChecked: "a fragment" },
      { file: "f.md", fenceLine: 9, lang: "typescript", code: "const a = 1;\n```\n", notChecked: undefined },
      { file: "f.md", fenceLine: 13, lang: "", code: "event: x\n", notChecked: undefined },
    ]);
    expect(misplacedOptOuts("f.md", md)).toEqual([]);
    expect(misplacedOptOuts("g.md", "<!-- not-checked: x -->\n\n```js\n```")).toHaveLength(1);
    expect(misplacedOptOuts("g.md", "<!-- not-checked: -->\n```js\n```")).toHaveLength(1);
  });
});
