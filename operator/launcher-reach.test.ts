import { LauncherReach } from './launcher-reach.js';

test('counts VMs whose launcher did not answer, reports each once when it turns unreachable, and forgets deleted VMs', () => {
  const reach = new LauncherReach();
  expect(reach.record('a/web', false)).toBe(true);
  expect(reach.record('a/web', false)).toBe(false);
  expect(reach.record('a/db', false)).toBe(true);
  expect(reach.count).toBe(2);
  expect(reach.record('a/web', true)).toBe(false);
  expect(reach.count).toBe(1);
  reach.forget('a/db');
  expect(reach.count).toBe(0);
  expect(reach.record('a/web', false)).toBe(true);
});
