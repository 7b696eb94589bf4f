import type { QmpEvent } from '../qmp/index.js';
import { INITIAL_STATE, isFinal, reduceVmState, type VmAction, type VmState } from './state.js';

const ev = (event: string, data: Record<string, unknown> = {}): VmAction => ({
  type: 'qmp',
  event: { event, data, timestamp: { seconds: 0, microseconds: 0 } } as QmpEvent,
});
const ioError = (action: string, extra: Record<string, unknown> = {}) =>
  ev('BLOCK_IO_ERROR', { device: '', 'node-name': 'fmt-data', operation: 'write', action, reason: 'Input/output error', ...extra });

const running: VmState = { state: 'running' };
const ioPaused: VmState = {
  state: 'paused',
  reason: 'IoError',
  message: 'paused on fmt-data: write error: Input/output error',
  ioError: { device: 'fmt-data', message: 'write error: Input/output error' },
};

describe('reduceVmState', () => {
  it.each<[string, VmState, VmAction[], Partial<VmState>]>([
    ['RESUME starts the guest', INITIAL_STATE, [ev('RESUME')], { state: 'running', reason: undefined }],
    ['STOP pauses on request', running, [ev('STOP')], { state: 'paused', reason: 'PausedByUser' }],
    ['a held -S start is paused', INITIAL_STATE, [{ type: 'held-paused' }], { state: 'paused', reason: 'PausedByUser' }],
    ['RESUME after a pause runs again', running, [ev('STOP'), ev('RESUME')], { state: 'running' }],
    ['RESET keeps running', running, [ev('RESET', { guest: true, reason: 'guest-reset' })], { state: 'running' }],
    ['guest power-off succeeds', running, [ev('SHUTDOWN', { guest: true, reason: 'guest-shutdown' })], {
      state: 'succeeded',
      reason: 'GuestShutdown',
      message: 'guest powered off',
    }],
    ['guest panic fails', running, [ev('STOP'), ev('GUEST_PANICKED', { action: 'pause' })], { state: 'failed', reason: 'GuestPanicked' }],
    ['panic shutdown fails', running, [ev('SHUTDOWN', { guest: true, reason: 'guest-panic' })], { state: 'failed', reason: 'GuestPanicked' }],
    ['io error with action stop pauses with the device', running, [ioError('stop'), ev('STOP')], ioPaused],
    ['STOP after an io error keeps the io reason', running, [ioError('stop'), ev('STOP')], { reason: 'IoError' }],
    ['io error with action report changes nothing', running, [ioError('report')], running],
    ['nospace is named', running, [ioError('stop', { nospace: true })], { message: 'paused on fmt-data: write error: Input/output error (no space left)' }],
    ['RESUME clears the io error', running, [ioError('stop'), ev('STOP'), ev('RESUME'), ev('STOP')], {
      state: 'paused',
      reason: 'PausedByUser',
      ioError: undefined,
    }],
    ['a user pause supersedes the io error', running, [ioError('stop'), ev('STOP'), { type: 'paused-by-user' }], {
      reason: 'PausedByUser',
      ioError: undefined,
    }],
    ['paused-by-user does not pause a running vm', running, [{ type: 'paused-by-user' }], running],
    ['host quit while running is stopping', running, [ev('SHUTDOWN', { guest: false, reason: 'host-qmp-quit' })], {
      state: 'stopping',
      reason: 'HostShutdown',
    }],
    ['a requested stop keeps its reason through quit', running, [
      { type: 'stop-requested', reason: 'StopRequested', message: 'stop requested' },
      ev('SHUTDOWN', { guest: false, reason: 'host-qmp-quit' }),
    ], { state: 'stopping', reason: 'StopRequested' }],
    ['guest power-off while stopping succeeds', running, [
      { type: 'stop-requested', reason: 'StopRequested', message: 'stop requested' },
      ev('SHUTDOWN', { guest: true, reason: 'guest-shutdown' }),
    ], { state: 'succeeded', reason: 'GuestShutdown' }],
    ['STOP while stopping stays stopping', running, [
      { type: 'stop-requested', reason: 'StopRequested', message: 'x' },
      ev('STOP'),
    ], { state: 'stopping' }],
    ['final states are sticky', running, [ev('SHUTDOWN', { guest: true, reason: 'guest-shutdown' }), ev('RESUME'), ev('GUEST_PANICKED')], {
      state: 'succeeded',
    }],
    ['a launcher failure is final', running, [{ type: 'failed', reason: 'QemuKilled', message: 'm' }, ev('RESUME')], {
      state: 'failed',
      reason: 'QemuKilled',
    }],
    ['suspend pauses, wakeup runs', running, [ev('SUSPEND')], { state: 'paused', reason: 'GuestSuspended' }],
    ['unknown events change nothing', running, [ev('NIC_RX_FILTER_CHANGED')], running],
  ])('%s', (_name, start, actions, expected) => {
    const end = actions.reduce(reduceVmState, start);
    for (const [key, value] of Object.entries(expected)) expect([key, end[key as keyof VmState]]).toEqual([key, value]);
  });

  it('marks succeeded and failed final', () => {
    expect(['starting', 'running', 'paused', 'stopping', 'succeeded', 'failed'].filter((s) => isFinal(s as never))).toEqual([
      'succeeded',
      'failed',
    ]);
  });
});
