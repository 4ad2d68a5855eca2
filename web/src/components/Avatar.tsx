import type { CSSProperties } from 'react';
import { avatarHue, initials } from '../state/timeline';
import { HashIcon } from './icons';

/** Initials on a colour derived from the user id; decorative (the name is always next to it). */
export function Avatar({ userId, name, size = 'md', online }: { userId: string; name: string; size?: 'sm' | 'md' | 'lg'; online?: boolean }) {
  const hue = avatarHue(userId);
  return (
    <span className={`avatar avatar-${size}`} style={{ '--hue': hue } as CSSProperties} aria-hidden>
      {initials(name)}
      {online !== undefined && <span className={`presence-dot ${online ? 'is-online' : 'is-offline'}`} />}
    </span>
  );
}

export function RoomAvatar({ size = 'md' }: { size?: 'sm' | 'md' | 'lg' }) {
  return (
    <span className={`avatar avatar-${size} avatar-room`} aria-hidden>
      <HashIcon />
    </span>
  );
}
