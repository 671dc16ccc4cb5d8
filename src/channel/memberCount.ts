import { BehaviorSubject, type Observable } from "rxjs";

/**
 * A channel's member count as an observable (`activeConnections$`): the count at once, then each change, and
 * completion when the channel closes. The subject is made on first use, so a channel nobody asks costs nothing.
 */
export class MemberCount {
  private subject: BehaviorSubject<number> | undefined;
  private ended = false;

  constructor(private readonly count: () => number) {}

  /** The observable; after {@link end}, it gives the last count and completes. */
  get changes$(): Observable<number> {
    if (this.subject === undefined) {
      this.subject = new BehaviorSubject(this.count());
      if (this.ended) this.subject.complete();
    }
    return this.subject.asObservable();
  }

  /** Emits the count when it differs from the last one emitted. */
  changed(): void {
    const subject = this.subject;
    const count = this.count();
    if (subject !== undefined && !subject.closed && subject.value !== count) subject.next(count);
  }

  /** Completes the observable. */
  end(): void {
    this.ended = true;
    this.subject?.complete();
  }
}
