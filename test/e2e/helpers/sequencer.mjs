// Jest's order, except that the end-to-end teardown.test.ts runs last: it takes down the one
// cluster all the other end-to-end suites share (and checks that nothing is left behind).
import Sequencer from '@jest/test-sequencer';

export default class TeardownLastSequencer extends Sequencer {
  async sort(tests) {
    const sorted = await super.sort(tests);
    const last = (t) => t.path.endsWith('/test/e2e/teardown.test.ts');
    return [...sorted.filter((t) => !last(t)), ...sorted.filter(last)];
  }
}
