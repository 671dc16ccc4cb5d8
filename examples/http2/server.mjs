// HTTP/2 over TLS, both APIs: the stream API (`server.on("stream")`, with `fromHttp2Stream`) on /events, and the
// compatibility API (`(req, res)`, with `new Session`) on /compat. Browsers speak HTTP/2 only over TLS: give your
// certificate in TLS_KEY and TLS_CERT (file paths), or this example makes a self-signed one with openssl.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BroadcastStream, Session } from "event-flare";
import { fromHttp2Stream } from "event-flare/http2";

const PORT = Number(process.env.PORT ?? 3443);
const ticks = new BroadcastStream("ticks");
let n = 0;
setInterval(() => ticks.broadcastAll({ n: ++n, at: new Date().toISOString() }, "tick"), 1000).unref();

function certificate() {
  if (process.env.TLS_KEY && process.env.TLS_CERT) {
    return { key: readFileSync(process.env.TLS_KEY), cert: readFileSync(process.env.TLS_CERT) };
  }
  const dir = mkdtempSync(join(tmpdir(), "event-flare-h2-"));
  const [key, cert] = [join(dir, "key.pem"), join(dir, "cert.pem")];
  execFileSync("openssl", [
    ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
    ...["-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"],
    ...["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
  ]);
  const pair = { key: readFileSync(key), cert: readFileSync(cert) };
  rmSync(dir, { recursive: true, force: true });
  return pair;
}

const server = http2.createSecureServer(certificate());
server.on("stream", (stream, headers) => {
  if (headers[":path"]?.split("?")[0] !== "/events") return; // the compatibility API answers the rest
  ticks.register(fromHttp2Stream(stream, headers));
});
server.on("request", (req, res) => {
  if (req.url.split("?")[0] !== "/compat") {
    if (req.url.split("?")[0] !== "/events") res.writeHead(404).end();
    return;
  }
  ticks.register(new Session(req, res));
});

server.listen(PORT, "127.0.0.1", () => {
  console.log(`listening on https://127.0.0.1:${server.address().port}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
