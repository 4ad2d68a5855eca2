import { useCallback, useEffect, useState, useSyncExternalStore } from 'react';

/** Whether a CSS media query matches, live. */
export function useMediaQuery(query: string): boolean {
  const subscribe = useCallback(
    (cb: () => void) => {
      const mql = window.matchMedia(query);
      mql.addEventListener('change', cb);
      return () => mql.removeEventListener('change', cb);
    },
    [query],
  );
  return useSyncExternalStore(subscribe, () => window.matchMedia(query).matches);
}

const ROOM_HASH = /^#\/room\/(.+)$/;

function roomFromHash(): string | null {
  const m = ROOM_HASH.exec(window.location.hash);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return null;
  }
}

/**
 * The open room lives in the URL (`#/room/1:2`): reloads keep it, and the phone's back button
 * returns from a room to the room list.
 */
export function useRoomRoute(): [string | null, (roomId: string | null, replace?: boolean) => void] {
  const [room, setRoom] = useState<string | null>(roomFromHash);
  useEffect(() => {
    const update = () => setRoom(roomFromHash());
    window.addEventListener('hashchange', update);
    window.addEventListener('popstate', update);
    return () => {
      window.removeEventListener('hashchange', update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  const navigate = useCallback((roomId: string | null, replace = false) => {
    const url = roomId === null ? window.location.pathname + window.location.search : `#/room/${encodeURIComponent(roomId).replace(/%3A/gi, ':')}`;
    if (replace) window.history.replaceState(window.history.state, '', url);
    else window.history.pushState({ redchat: true }, '', url);
    setRoom(roomId);
  }, []);
  return [room, navigate];
}

/** Re-renders every `ms` (relative times like "Today" stay right past midnight). */
export function useNow(ms = 60_000): number {
  const [now, setNow] = useState(() => Date.now() / 1000);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now() / 1000), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

/** True when the current history entry was pushed by useRoomRoute (so "back" stays in the app). */
export function canGoBackInApp(): boolean {
  const st: unknown = window.history.state;
  return typeof st === 'object' && st !== null && (st as { redchat?: unknown }).redchat === true;
}
