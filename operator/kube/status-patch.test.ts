import { statusPatch } from './status-patch.js';

describe('statusPatch', () => {
  it('is undefined when nothing changed, whatever the key order', () => {
    expect(statusPatch({ printableStatus: 'Running', cpus: 2 }, { cpus: 2, printableStatus: 'Running' })).toBeUndefined();
  });

  it('carries changed fields and nulls removed ones', () => {
    expect(statusPatch({ printableStatus: 'Running', nodeName: 'a', cpus: 2 }, { printableStatus: 'Stopped', cpus: 2 })).toEqual({ printableStatus: 'Stopped', nodeName: null });
  });

  it('replaces lists whole (a merge patch cannot edit list items)', () => {
    expect(statusPatch({ interfaces: [{ name: 'default', ipAddress: '1' }] }, { interfaces: [{ name: 'default', ipAddress: '2' }] })).toEqual({ interfaces: [{ name: 'default', ipAddress: '2' }] });
  });
});
