import { Timeline } from '../../cli/timings.js';
import { parseTimings } from './play-run.js';
import { PLAY_MILESTONES } from './play-report.js';

test('reads back the milestones kubevmm play --timings prints, by name', () => {
  const t = new Timeline();
  for (const name of Object.values(PLAY_MILESTONES)) t.mark(name);
  const stderr = ['kubevmm: accelerator tcg (software emulation): ...', ...t.lines().map((l) => `kubevmm: ${l}`), 'kubevmm: done'].join('\n');
  const parsed = parseTimings(stderr);
  expect([...parsed.keys()]).toEqual(Object.values(PLAY_MILESTONES));
  expect([...parsed.values()].every((v, i, all) => Number.isFinite(v) && (i === 0 || v >= (all[i - 1] ?? 0)))).toBe(true);
});
