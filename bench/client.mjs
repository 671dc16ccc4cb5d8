// The CLIENT child: N real TCP connections to the server child, each a plain `net` socket that sends
// `GET / HTTP/1.1` with `Accept: text/event-stream`. Responses are parsed by hand (status line, headers,
// chunked transfer coding) so that the client stays far cheaper than any server it measures.
//
// Every complete event (a block ended by a blank line that carries a data line) is checked: the data is
// `<seq>:<sendTimeUs>:xxx…`, and each connection must see seq = 0, 1, 2, … exactly once and in order, with the
// expected data length and a strictly increasing `id:` (numbers, or event-flare's `<ms>-<seq>`).
// Latency = receive time of the socket read that completed the event − send time embedded by the server.
//
// argv[2] is JSON: { port, n, concurrency?, lastEventId?, seqStart?, armed?, histogram? }
//   lastEventId: sent as the Last-Event-ID header of every request (a reconnect); seqStart: the first seq each
//   connection expects (default 0); armed: { m, size } arms a cell before connecting, for events replayed at once
//   (cell-done when every connection has seqStart … seqStart + m − 1); histogram: cell-done also carries the latency
//   histogram's non-empty buckets as [index, count] pairs, so the orchestrator can merge clients.
// IPC in:  { cmd: "expect", seqStart, m, size } -> { type: "armed" }, then { type: "cell-done", … } when every
//          connection has all m events;  { cmd: "status" } -> { type: "status", … };
//          { cmd: "verify", total } -> { type: "verified", ok, errors };  { cmd: "exit" }
//          { cmd: "gaps-reset" } -> { type: "gaps-reset" }, then { cmd: "gaps", limitMs } -> { type: "gaps", maxGapMs,
//          over }: the longest time any connection went without receiving a byte since the reset (heartbeats count),
//          and how many connections went longer than limitMs (bench/scale.mjs)
// IPC out: { type: "connected", n, ms }, { type: "error", message } on the first correctness failure.
import net from "node:net";
import { bindToParent, contextSwitches, fullGc, Histogram, nowUs, toParent } from "./common.mjs";

const config = JSON.parse(process.argv[2]);
bindToParent("client");

const { port, n } = config;
const concurrency = config.concurrency ?? 200;
const HOST = "127.0.0.1";
const REQUEST = Buffer.from(
  `GET / HTTP/1.1\r\nHost: ${HOST}:${port}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n` +
    (config.lastEventId !== undefined ? `Last-Event-ID: ${config.lastEventId}\r\n` : "") +
    "\r\n",
  "latin1",
);
const SEQ_START = config.seqStart ?? 0;
const MAX_ERRORS = 20;
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

const conns = [];
const histogram = new Histogram();
const errors = [];
let errorCount = 0;
let shuttingDown = false;
/** The cell being measured: { end, size, remaining, armedAt, cpu0, events } or undefined between cells. */
let cell;

function fail(message) {
  errorCount += 1;
  if (errors.length < MAX_ERRORS) errors.push(message);
  if (errorCount === 1) toParent({ type: "error", message: `client: ${message}` });
}

class Conn {
  constructor(index) {
    this.index = index;
    this.socket = undefined;
    this.headerDone = false;
    this.headerText = "";
    this.chunked = false;
    /** Chunked decoder: 0 size line, 1 chunk data, 2 CRLF after data, 3 last chunk seen (stream ended). */
    this.cstate = 0;
    this.csize = 0;
    this.cext = false;
    this.cleft = 0;
    this.crlf = 0;
    /** Bytes of an event cut by a read (or chunk) boundary, waiting for the rest. */
    this.carry = null;
    /** Next expected seq, and the seq this cell ends before. */
    this.next = SEQ_START;
    this.end = cell !== undefined ? SEQ_START + config.armed.m : 0;
    /** Last id seen, as two numbers (`12` -> 12,0; `1764-3` -> 1764,3). */
    this.idA = -1;
    this.idB = -1;
    /** When the last bytes arrived, and the longest wait between two arrivals since the last gaps-reset (µs). */
    this.lastAt = nowUs();
    this.maxGap = 0;
  }
}

function onData(conn, buf) {
  const now = nowUs();
  if (now - conn.lastAt > conn.maxGap) conn.maxGap = now - conn.lastAt;
  conn.lastAt = now;
  let pos = 0;
  if (!conn.headerDone) {
    const text = conn.headerText + buf.toString("latin1");
    const at = text.indexOf("\r\n\r\n");
    if (at === -1) {
      conn.headerText = text;
      if (text.length > 65536) fail(`conn ${conn.index}: no end of headers in 64 KiB`);
      return;
    }
    const head = text.slice(0, at);
    if (!/^HTTP\/1\.[01] 200 /.test(head)) fail(`conn ${conn.index}: bad status line ${head.split("\r\n")[0]}`);
    if (!/\r\ncontent-type:[ \t]*text\/event-stream/i.test(head)) fail(`conn ${conn.index}: not text/event-stream`);
    conn.chunked = /\r\ntransfer-encoding:[ \t]*chunked/i.test(head);
    pos = at + 4 - conn.headerText.length;
    conn.headerText = "";
    conn.headerDone = true;
    onHeaders(conn);
  }
  if (conn.chunked) dechunk(conn, buf, pos, now);
  else if (pos < buf.length) body(conn, buf, pos, buf.length, now);
}

function dechunk(conn, buf, pos, now) {
  const len = buf.length;
  while (pos < len) {
    const state = conn.cstate;
    if (state === 1) {
      const take = Math.min(conn.cleft, len - pos);
      body(conn, buf, pos, pos + take, now);
      pos += take;
      conn.cleft -= take;
      if (conn.cleft === 0) {
        conn.cstate = 2;
        conn.crlf = 2;
      }
    } else if (state === 0) {
      const c = buf[pos++];
      if (c === 10) {
        if (conn.csize === 0) {
          conn.cstate = 3;
          fail(`conn ${conn.index}: the server ended the stream`);
        } else {
          conn.cstate = 1;
          conn.cleft = conn.csize;
        }
      } else if (c !== 13 && !conn.cext) {
        const digit = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
        if (digit >= 0) conn.csize = conn.csize * 16 + digit;
        else if (c === 59) conn.cext = true;
        else fail(`conn ${conn.index}: bad chunk size byte ${c}`);
      }
    } else if (state === 2) {
      const c = buf[pos++];
      if (c !== 13 && c !== 10) fail(`conn ${conn.index}: chunk not followed by CRLF`);
      conn.crlf -= 1;
      if (conn.crlf === 0) {
        conn.cstate = 0;
        conn.csize = 0;
        conn.cext = false;
      }
    } else {
      return;
    }
  }
}

/** Body bytes buf[start, end): joins any carried partial event, parses complete events, carries the rest. */
function body(conn, buf, start, end, now) {
  if (conn.carry !== null) {
    buf = Buffer.concat([conn.carry, buf.subarray(start, end)]);
    start = 0;
    end = buf.length;
    conn.carry = null;
  }
  const consumed = parseEvents(conn, buf, start, end, now);
  if (consumed < end) conn.carry = Buffer.from(buf.subarray(consumed, end));
}

/**
 * Walks lines with Buffer#indexOf (memchr) and reads only the first bytes of id and data lines; a blank line ends
 * a block. Returns the offset of the first byte of the incomplete block (end when none is pending).
 */
function parseEvents(conn, buf, start, end, now) {
  let pos = start;
  let blockStart = start;
  let hasData = false;
  let seq = -1;
  let sent = 0;
  let dataLen = -1;
  let idA = -1;
  let idB = 0;
  while (pos < end) {
    const nl = buf.indexOf(10, pos);
    if (nl === -1 || nl >= end) break;
    if (nl === pos) {
      if (hasData) onEvent(conn, seq, sent, dataLen, idA, idB, now);
      hasData = false;
      seq = -1;
      idA = -1;
      idB = 0;
      pos = nl + 1;
      blockStart = pos;
      continue;
    }
    const c = buf[pos];
    if (c === 100 && buf[pos + 4] === 58) {
      // "data:"
      if (hasData) fail(`conn ${conn.index}: event with more than one data line`);
      let p = pos + 5;
      if (buf[p] === 32) p += 1;
      dataLen = nl - p;
      if (buf[p] === 34) p += 1; // better-sse JSON-encodes the string: "…"
      let v = 0;
      let digits = 0;
      for (let d = buf[p] - 48; d >= 0 && d <= 9; d = buf[++p] - 48) {
        v = v * 10 + d;
        digits += 1;
      }
      if (digits === 0 || buf[p] !== 58) {
        fail(`conn ${conn.index}: malformed data line ${buf.toString("latin1", pos, Math.min(nl, pos + 40))}`);
      }
      seq = v;
      v = 0;
      for (let d = buf[++p] - 48; d >= 0 && d <= 9; d = buf[++p] - 48) v = v * 10 + d;
      sent = v;
      hasData = true;
    } else if (c === 105 && buf[pos + 1] === 100 && buf[pos + 2] === 58) {
      // "id:"
      let p = pos + 3;
      if (buf[p] === 32) p += 1;
      let a = 0;
      let digits = 0;
      for (let d = buf[p] - 48; d >= 0 && d <= 9; d = buf[++p] - 48) {
        a = a * 10 + d;
        digits += 1;
      }
      let b = 0;
      if (buf[p] === 45) {
        for (let d = buf[++p] - 48; d >= 0 && d <= 9; d = buf[++p] - 48) b = b * 10 + d;
      }
      if (digits === 0 || p !== nl) idA = -2;
      else {
        idA = a;
        idB = b;
      }
    }
    pos = nl + 1;
  }
  return blockStart;
}

function onEvent(conn, seq, sent, dataLen, idA, idB, now) {
  if (cell === undefined || conn.next >= conn.end) {
    fail(`conn ${conn.index}: unexpected event seq ${seq} (expected none; next ${conn.next}, end ${conn.end})`);
    return;
  }
  if (seq !== conn.next) {
    fail(
      `conn ${conn.index}: expected seq ${conn.next}, got ${seq} (${seq < conn.next ? "duplicate or reordered" : "missing events"})`,
    );
    // A duplicate is dropped; after a gap, go on from here so that one failure does not flood the report.
    if (seq < conn.next) return;
  }
  const expectedLen = cell.size;
  if (dataLen !== expectedLen && dataLen !== expectedLen + 2) {
    fail(`conn ${conn.index}: seq ${seq} has ${dataLen} data bytes, expected ${expectedLen}`);
  }
  if (idA === -1) fail(`conn ${conn.index}: seq ${seq} has no id`);
  else if (idA === -2) fail(`conn ${conn.index}: seq ${seq} has an id that is not <n> or <n>-<n>`);
  else if (idA < conn.idA || (idA === conn.idA && idB <= conn.idB)) {
    fail(`conn ${conn.index}: seq ${seq} id ${idA}-${idB} not above previous ${conn.idA}-${conn.idB}`);
  }
  conn.idA = idA;
  conn.idB = idB;
  histogram.record(now - sent);
  cell.events += 1;
  const wasBelowEnd = conn.next < conn.end;
  conn.next = seq + 1;
  if (wasBelowEnd && conn.next >= conn.end) {
    cell.remaining -= 1;
    if (cell.remaining === 0) finishCell(now);
  }
}

function finishCell(now) {
  const cpu = process.cpuUsage(cell.cpu0);
  const wallUs = now - cell.armedAt;
  const switches = contextSwitches();
  toParent({
    type: "cell-done",
    tLast: now,
    events: cell.events,
    latency: histogram.summary(),
    clientCpuUs: cpu.user + cpu.system,
    clientSystemUs: cpu.system,
    clientVoluntarySwitches: switches.voluntary - cell.switches0.voluntary,
    clientInvoluntarySwitches: switches.involuntary - cell.switches0.involuntary,
    clientWallUs: wallUs,
    histogram: config.histogram === true ? histogram.sparse() : undefined,
  });
}

let connected = 0;
let started = 0;
let inflight = 0;
const connectStart = nowUs();

function onHeaders() {
  inflight -= 1;
  connected += 1;
  if (connected === n) toParent({ type: "connected", n, ms: (nowUs() - connectStart) / 1000 });
  else pump();
}

function open(index) {
  const conn = new Conn(index);
  conns.push(conn);
  // onread: reads land in one shared buffer and reach onData synchronously, without the Readable stream machinery
  // or an allocation per read. Safe to share: every partial event left over is copied out (carry).
  const socket = net.connect({
    port,
    host: HOST,
    onread: { buffer: READ_BUFFER, callback: (nread, buf) => onData(conn, buf.subarray(0, nread)) },
  });
  conn.socket = socket;
  socket.on("connect", () => socket.write(REQUEST));
  socket.on("error", (error) => {
    if (!shuttingDown) fail(`conn ${index}: socket error ${error.code ?? error.message}`);
  });
  socket.on("close", () => {
    if (!shuttingDown) fail(`conn ${index}: connection closed by the server`);
  });
}

function pump() {
  while (inflight < concurrency && started < n) {
    inflight += 1;
    open(started++);
  }
}

if (config.armed !== undefined) {
  cell = {
    size: config.armed.size,
    remaining: n,
    events: 0,
    armedAt: nowUs(),
    cpu0: process.cpuUsage(),
    switches0: contextSwitches(),
  };
}

process.on("message", (msg) => {
  switch (msg.cmd) {
    case "expect": {
      const end = msg.seqStart + msg.m;
      for (const conn of conns) {
        if (conn.next !== msg.seqStart) {
          fail(`conn ${conn.index}: at seq ${conn.next} before a cell that starts at ${msg.seqStart}`);
        }
        conn.end = end;
      }
      fullGc();
      histogram.counts.fill(0);
      histogram.total = 0;
      histogram.max = 0;
      cell = {
        size: msg.size,
        remaining: conns.length,
        events: 0,
        armedAt: nowUs(),
        cpu0: process.cpuUsage(),
        switches0: contextSwitches(),
      };
      toParent({ type: "armed" });
      break;
    }
    case "status": {
      const behind = conns.filter((c) => c.next < c.end);
      toParent({
        type: "status",
        remaining: cell?.remaining,
        behind: behind.length,
        sample: behind.slice(0, 5).map((c) => ({ conn: c.index, next: c.next, end: c.end, carry: c.carry?.length })),
        errors,
      });
      break;
    }
    case "verify":
      // A short grace period: anything sent after the last expected event would arrive now and be flagged.
      setTimeout(() => {
        for (const conn of conns) {
          if (conn.next !== msg.total) fail(`conn ${conn.index}: ended at seq ${conn.next}, expected ${msg.total}`);
          if (conn.carry !== null) fail(`conn ${conn.index}: ${conn.carry.length} bytes of an unfinished event`);
        }
        toParent({ type: "verified", ok: errorCount === 0, errorCount, errors });
      }, 300);
      break;
    case "gaps-reset": {
      const now = nowUs();
      for (const conn of conns) {
        conn.lastAt = now;
        conn.maxGap = 0;
      }
      toParent({ type: "gaps-reset" });
      break;
    }
    case "gaps": {
      const now = nowUs();
      let maxGap = 0;
      let over = 0;
      for (const conn of conns) {
        const gap = Math.max(conn.maxGap, now - conn.lastAt);
        if (gap > maxGap) maxGap = gap;
        if (gap > msg.limitMs * 1000) over += 1;
      }
      toParent({ type: "gaps", maxGapMs: maxGap / 1000, over });
      break;
    }
    case "exit":
      shuttingDown = true;
      for (const conn of conns) conn.socket?.destroy();
      process.exit(0);
      break;
    default:
      fail(`unknown command ${msg.cmd}`);
  }
});

pump();
