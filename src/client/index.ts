export { EventFlareError, type EventFlareErrorCode, isEventFlareError } from "../errors.js";
export { fromEventSource } from "./fromEventSource.js";
export type {
  ClientConnection,
  ClientEventMap,
  ClientGapReason,
  ClientHistoryGap,
  ClientInvalidData,
  ClientMessage,
  ClientNotification,
  EventSourceConstructor,
  EventSourceLike,
  FromEventSourceOptions,
  TextEvents,
} from "./types.js";
