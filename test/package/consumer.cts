// Type-checked as a CommonJS consumer of the built package (see package.test.ts).
import eventFlare = require("event-flare");

const options: eventFlare.SessionOptions = { heartbeatInterval: 20000 };
export const check: [typeof eventFlare.Session, eventFlare.SessionOptions] = [eventFlare.Session, options];
