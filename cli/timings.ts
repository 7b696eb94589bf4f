/**
 * `kubevmm play --timings`: where start-up and shutdown time goes, as milestones in ms since
 * the process started (performance.now() counts from Node's own start), printed at the end.
 */

/** Milestones of one run. */
export class Timeline {
  private readonly marks: { name: string; at: number }[] = [];

  /** Records `name` now. */
  mark(name: string): void {
    this.marks.push({ name, at: performance.now() });
  }

  /** One line per milestone: time since the process started, time since the previous one, name. */
  lines(): string[] {
    let previous = 0;
    return this.marks.map(({ name, at }) => {
      const line = `timing ${at.toFixed(1).padStart(8)} ms  +${(at - previous).toFixed(1).padStart(7)} ms  ${name}`;
      previous = at;
      return line;
    });
  }
}
