import type { FastifyPluginCallback, FastifyReply } from "fastify";
import type { Backplane } from "../backplane/Backplane.js";
import { EventFlareError } from "../errors.js";
import type { BackplaneOption, SessionOptions } from "../options.js";
import { type EventMap, Session } from "../session/Session.js";

declare module "fastify" {
  interface FastifyReply {
    /**
     * Answers this request with an event stream and returns its session. The reply is hijacked (Fastify sends
     * nothing more for it); headers already set with `reply.header()`, by hooks or plugins, go out with the stream.
     * `onRequest` and `preHandler` hooks run before it, so they can reject a request before any SSE header is sent.
     *
     * @param options See `SessionOptions`; every option has a default.
     * @throws EventFlareError `INVALID_ARGUMENT` when the reply was already sent, `INVALID_OPTION` for a bad option;
     * nothing is written then.
     */
    sse<TEvents extends EventMap = EventMap, TBackplane extends Backplane | undefined = undefined>(
      options?: SessionOptions & BackplaneOption<TBackplane>,
    ): Session<TEvents, TBackplane>;
  }
}

function sse(this: FastifyReply, options?: SessionOptions & BackplaneOption<Backplane | undefined>): Session {
  if (this.sent || this.raw.headersSent) {
    throw new EventFlareError(
      "INVALID_ARGUMENT",
      "reply.sse() needs a reply that has not been sent: call it instead of reply.send(), not after it.",
      { field: "reply" },
    );
  }
  const raw = this.raw;
  for (const [name, value] of Object.entries(this.getHeaders())) if (value !== undefined) raw.setHeader(name, value);
  // Constructed before the hijack: a bad option throws with nothing written, and Fastify answers the error.
  const session = new Session(this.request.raw, raw, options);
  this.hijack();
  return session;
}

const plugin: FastifyPluginCallback = (fastify, _options, done) => {
  fastify.decorateReply("sse", sse);
  done();
};

/**
 * The Fastify 5 plugin: `app.register(eventFlare)` adds `reply.sse(options?)` to every route of the app.
 * It is not encapsulated (as `fastify-plugin` would mark it), so registering it once at the root serves every
 * child context.
 *
 * ## Example
 * ```ts
 * const app = Fastify({ logger: true });
 * await app.register(eventFlare);
 * app.get("/events", (request, reply) => {
 *   channel.register(reply.sse({ sessionId: request.user.id }));
 * });
 * ```
 */
export const eventFlare: FastifyPluginCallback = Object.assign(plugin, {
  [Symbol.for("skip-override")]: true,
  [Symbol.for("fastify.display-name")]: "event-flare",
  [Symbol.for("plugin-meta")]: { name: "event-flare", fastify: "5.x" },
});

export default eventFlare;
