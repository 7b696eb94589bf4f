/**
 * "Paste as keystrokes" on VNC: text into X11 keysyms, which RFB key events carry. Latin-1
 * characters are their own keysym; other Unicode characters are 0x01000000 + code point (the
 * X11 convention QEMU's VNC server maps through its keymap); newline and tab are the Return
 * and Tab keys.
 */
const SPECIAL: Record<string, number> = { '\n': 0xff0d, '\r': 0xff0d, '\t': 0xff09, '\b': 0xff08 };

/** The keysyms that type `text`; a CR LF pair is one Return. */
export function keysymsOf(text: string): number[] {
  const out: number[] = [];
  const normalised = text.replace(/\r\n/g, '\n');
  for (const ch of normalised) {
    const code = ch.codePointAt(0)!;
    const special = SPECIAL[ch];
    if (special !== undefined) out.push(special);
    else if (code >= 0x20 && code <= 0x7e) out.push(code);
    else if (code >= 0xa0 && code <= 0xff) out.push(code);
    else if (code > 0xff) out.push(0x01000000 + code);
  }
  return out;
}

/** Largest paste typed at once: a VNC key event is 8 bytes each way, and a long paste ties up the guest. */
export const MAX_PASTE_CHARS = 4096;
