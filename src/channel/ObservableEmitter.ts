import { EventEmitter } from "node:events";
import {
  EmptyError,
  lastValueFrom,
  Observable,
  type Operator,
  observable as observableKey,
  Subject,
  type Subscribable,
  type Subscription,
} from "rxjs";

/**
 * An EventEmitter that is also a hot RxJS observable of `T`: `subscribe`, `pipe`, `forEach`, `from(x)` and
 * `merge(x, …)` all work, and `isObservable(x)` is true. Subclasses publish with {@link publish} and end the
 * observable with {@link endEvents}. Late subscribers see only later values; after the end they complete at once.
 */
// biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own constraint for its event map.
export abstract class ObservableEmitter<T, TEmitterEvents extends Record<keyof TEmitterEvents, any[]>>
  extends EventEmitter<TEmitterEvents>
  implements Subscribable<T>
{
  /** The multicast, created on first subscription: nothing is allocated for values nobody observes. */
  private subject: Subject<T> | undefined;
  private ended = false;

  /** Subscribes to the values (the multicast observable). */
  readonly subscribe: Observable<T>["subscribe"] = (...args: unknown[]) =>
    (this.asObservable().subscribe as (...a: unknown[]) => Subscription)(...args);

  /** Pipes the values through operators, like any observable. */
  readonly pipe: Observable<T>["pipe"] = (...operators: unknown[]) =>
    (this.asObservable().pipe as (...ops: unknown[]) => Observable<unknown>)(...operators) as never;

  /** Calls `next` for each value until the end; like `Observable.forEach`. */
  forEach(next: (value: T) => void): Promise<void> {
    return this.asObservable().forEach(next);
  }

  /** @deprecated Kept so this is structurally an RxJS `Observable`; use `lastValueFrom(x)`. */
  toPromise(): Promise<T | undefined> {
    return lastValueFrom(this.asObservable()).catch((error: unknown) => {
      if (error instanceof EmptyError) return undefined;
      throw error;
    });
  }

  /** @internal Part of RxJS's Observable shape; this is a source, not a lifted observable. */
  readonly source: Observable<unknown> | undefined = undefined;
  /** @internal Part of RxJS's Observable shape. */
  readonly operator: Operator<unknown, T> | undefined = undefined;

  /** @internal Lets RxJS treat this as an observable (`isObservable`, operators that lift). */
  lift<R>(operator?: Operator<T, R>): Observable<R> {
    const lifted = new Observable<R>();
    (lifted as unknown as { source: Observable<T> }).source = this.asObservable();
    (lifted as unknown as { operator: Operator<T, R> | undefined }).operator = operator;
    return lifted;
  }

  /** The values as a plain RxJS Observable (hot; completes at the end). */
  asObservable(): Observable<T> {
    if (this.subject === undefined) {
      this.subject = new Subject<T>();
      if (this.ended) this.subject.complete();
    }
    return this.subject.asObservable();
  }

  /**
   * Interop: `from(x)` and `merge(x, …)` work. Typed with `Symbol.observable` (as RxJS's `InteropObservable` is);
   * defined below under RxJS's runtime key, which is `"@@observable"` where `Symbol.observable` does not exist.
   */
  declare [Symbol.observable]: () => Subscribable<T>;

  /** Publishes one value to current subscribers. */
  protected publish(value: T): void {
    this.subject?.next(value);
  }

  /** Completes the observable, now and for every later subscriber. */
  protected endEvents(): void {
    this.ended = true;
    this.subject?.complete();
  }
}

Object.defineProperty(ObservableEmitter.prototype, observableKey, {
  value(this: ObservableEmitter<unknown, never>): Subscribable<unknown> {
    return this;
  },
});
