import { type Observable, Subscription } from "rxjs";

/**
 * Sends every value of `source$` with `send` until the returned subscription ends, which it does when the source
 * completes, errors, or yields a value `send` refuses (by throwing, or by a promise that rejects); `fail` hears of the
 * error first. The subscription is kept in `sources` while it runs, so the owner can end every source at once.
 */
export function forwardSource<T>(
  source$: Observable<T>,
  sources: Subscription,
  send: (value: T) => string | Promise<string>,
  fail: (error: unknown) => void,
): Subscription {
  const subscription = new Subscription();
  sources.add(subscription);
  subscription.add(() => sources.remove(subscription));
  const failOnce = (error: unknown) => {
    if (subscription.closed) return;
    fail(error);
    subscription.unsubscribe();
  };
  subscription.add(
    source$.subscribe({
      next: (value) => {
        try {
          const sent = send(value);
          if (typeof sent !== "string") sent.catch(failOnce);
        } catch (error) {
          failOnce(error);
        }
      },
      error: failOnce,
      complete: () => subscription.unsubscribe(),
    }),
  );
  return subscription;
}
