// Type-checked as an ES module consumer of the built package (see package.test.ts).
import { EventFlareError, Session, type SessionOptions } from "event-flare";

const options: SessionOptions = { heartbeatInterval: 20000, retryInterval: 2000, historySize: 500, sessionId: "x" };
export const check: [typeof Session, typeof EventFlareError, SessionOptions] = [Session, EventFlareError, options];
