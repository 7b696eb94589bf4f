// Runs the end-to-end suites in name order with teardown.test.ts last: it takes down the one
// cluster all the others share (and checks that nothing is left behind).
import Sequencer from '@jest/test-sequencer';

export default class E2eSequencer extends Sequencer {
  sort(tests) {
    const last = (t) => (t.path.endsWith('teardown.test.ts') ? 1 : 0);
    return [...tests].sort((a, b) => last(a) - last(b) || a.path.localeCompare(b.path));
  }
}
