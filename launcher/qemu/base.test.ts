import { baseFragment, qmpArgs, SANDBOX } from './base.js';
import { flagValues } from '../../test/fakes/launcher-vm.js';

const UID = '6F1C1B52-8D8A-4F8E-9C59-1C2F7E0E9A11';

describe('baseFragment', () => {
  it.each([
    ['uid is a UUID: -uuid, lower-cased', UID, [UID.toLowerCase()]],
    ['uid is not a UUID: no -uuid', 'not-a-uuid', []],
    ['no uid: no -uuid', undefined, []],
  ])('%s', (_name, uid, expected) => {
    const { args } = baseFragment({ name: 'web-1', namespace: 'team-a', uid }, '/run/qmp.sock');
    expect(flagValues(args, '-uuid')).toEqual(expected);
  });

  it('starts paused, without defaults or a display, named after the VM', () => {
    const { args } = baseFragment({ name: 'web-1', namespace: 'team-a' }, '/run/qmp.sock');
    expect(args.slice(0, 3)).toEqual(['-S', '-no-user-config', '-nodefaults']);
    expect(flagValues(args, '-display')).toEqual(['none']);
    expect(flagValues(args, '-name')).toEqual(['guest=team-a_web-1,debug-threads=on']);
    expect(flagValues(args, '-msg')).toEqual(['timestamp=on']);
    expect(flagValues(args, '-sandbox')).toEqual([SANDBOX]);
    expect(SANDBOX).toBe('on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny');
  });
});

describe('qmpArgs', () => {
  it('is a control monitor on a listening unix socket', () => {
    expect(qmpArgs('/run/a,b/qmp.sock')).toEqual([
      '-chardev',
      'socket,id=qmp,path=/run/a,,b/qmp.sock,server=on,wait=off',
      '-mon',
      'chardev=qmp,mode=control',
    ]);
  });
});
