import { useEffect, useState } from 'react';
import type { ConnectionStatus } from '../state/chat';

/** Shown only when the first connection takes this long (no flash on a normal start). */
const CONNECTING_GRACE_MS = 1500;

/** A strip across the top while the socket is down; a polite live region for screen readers. */
export function ConnectionBanner({ status }: { status: ConnectionStatus }) {
  const [slow, setSlow] = useState(false);
  useEffect(() => {
    if (status !== 'connecting') return setSlow(false);
    const t = setTimeout(() => setSlow(true), CONNECTING_GRACE_MS);
    return () => clearTimeout(t);
  }, [status]);
  const text =
    status === 'reconnecting'
      ? 'Connection lost. Reconnecting… Missed messages will load as soon as it is back.'
      : status === 'connecting' && slow
        ? 'Connecting…'
        : '';
  return (
    <div className={`connection-banner${text ? ' is-shown' : ''}`} role="status" aria-live="polite">
      {text && (
        <>
          <span className="spinner" aria-hidden />
          <span>{text}</span>
        </>
      )}
    </div>
  );
}
