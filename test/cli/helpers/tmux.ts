// A real terminal for the CLI suites: one tmux session, what it shows, and waiting for it.
import { execFileSync, spawnSync } from 'node:child_process';

/** Throws with the install hint when tmux is missing. */
export function requireTmux(): void {
  if (spawnSync('tmux', ['-V']).status !== 0) throw new Error('tmux is not installed; install it with: apt-get install -y tmux (or bash scripts/install-deps.sh)');
}

/** Runs tmux; its output. */
export function tmux(...args: string[]): string {
  return execFileSync('tmux', args, { encoding: 'utf8' });
}

/** One named session: its screen (with 200 lines of history) and a wait on it. */
export function tmuxSession(name: string) {
  const screen = () => tmux('capture-pane', '-t', name, '-p', '-S', '-200');
  return {
    screen,
    /** Polls `check` until it holds; on timeout the error shows the screen. */
    async until(what: string, check: () => boolean, ms: number): Promise<void> {
      const end = Date.now() + ms;
      while (!check()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}; screen:\n${screen()}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    kill: () => spawnSync('tmux', ['kill-session', '-t', name]),
  };
}
