/** What the metrics read of a channel. */
export interface CountedChannel {
  readonly channelId: string;
  getActiveConnections(): number;
  close(): void;
}

/**
 * The channels of the process that are not closed, held weakly (a channel the application dropped without closing
 * it is not kept alive for the metrics), across copies of the library.
 */
export const openChannels: Set<WeakRef<CountedChannel>> = (() => {
  const key = Symbol.for("event-flare.openChannels.v1");
  const holder = globalThis as { [key]?: Set<WeakRef<CountedChannel>> };
  holder[key] ??= new Set();
  return holder[key];
})();
