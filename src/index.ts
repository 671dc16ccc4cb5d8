export type { RegistrableSession } from "./channel/admission.js";
export { BroadcastStream } from "./channel/BroadcastStream.js";
export type {
  BroadcastSuccessEvent,
  ChannelEmitterEvents,
  ChannelEvent,
  ChannelLifecycleEvent,
  ChannelSessionClosedEvent,
  ChannelSourceErrorEvent,
  DeregisterReason,
  SessionDeregisteredEvent,
  SessionRegisteredEvent,
} from "./channel/lifecycle.js";
export type { SessionSelector } from "./channel/selectMembers.js";
export { encodeComment, encodeEvent, encodeRetry, type SseFields } from "./encode.js";
export { EVENT_FLARE_ERROR_CODES, EventFlareError, type EventFlareErrorCode, isEventFlareError } from "./errors.js";
export { heartbeat } from "./heartbeat.js";
export type { HistoryGapReason } from "./history/History.js";
export { type RequestLike, readLastEventId } from "./lastEventId.js";
export { messageToData } from "./message.js";
export { type EventFlareMetrics, metrics, metrics$ } from "./metrics/metrics.js";
export type { BroadcastStreamOptions } from "./options.js";
export { DEFAULTS, type SessionOptions } from "./options.js";
export { type CloseAllOptions, closeAllSessions } from "./session/closeAllSessions.js";
export {
  type CloseReason,
  ConnectionState,
  HISTORY_GAP_EVENT,
  type HistoryGapEvent,
  type MessageSentEvent,
  SESSION_REPLACED_EVENT,
  type SessionClosedEvent,
  type SessionLifecycleEvent,
  type SourceErrorEvent,
} from "./session/lifecycle.js";
export { type EventMap, type OutgoingEvent, Session, type SessionEmitterEvents } from "./session/Session.js";
export type { NodeRequest, NodeResponse } from "./transport/nodeHttp.js";
