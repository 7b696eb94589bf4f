import { Timeline } from './timings.js';

test('milestones print in order with their time since start and since the one before', async () => {
  const t = new Timeline();
  t.mark('first');
  await new Promise((r) => setTimeout(r, 20));
  t.mark('second');
  const lines = t.lines();
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatch(/^timing +\d+\.\d ms {2}\+ *\d+\.\d ms {2}first$/);
  const [, at1] = /timing +(\S+)/.exec(lines[0] ?? '') ?? [];
  const [, at2, delta] = /timing +(\S+) ms {2}\+ *(\S+) ms/.exec(lines[1] ?? '') ?? [];
  expect(Number(at2) - Number(at1)).toBeCloseTo(Number(delta), 0);
  expect(Number(delta)).toBeGreaterThanOrEqual(15);
});
