import type { ComponentChildren, JSX } from 'preact';
import { useLayoutEffect, useRef } from 'preact/hooks';
import { useHotkeys } from '../hotkeys';
import { Icon } from './icons';

type ModalProps = {
  title: string;
  onClose?: () => void;
  testid?: string;
  wide?: boolean;
  children: ComponentChildren;
};

/** A dialog over the screen; Esc closes it. It takes every key while open. */
export function Modal({ title, onClose, testid, wide, children }: ModalProps) {
  useHotkeys((e) => {
    if (e.key === 'Escape' && onClose) {
      e.preventDefault();
      onClose();
    }
    return true;
  });
  return (
    <div class="backdrop" role="presentation">
      <div class={`modal${wide ? ' wide' : ''}`} role="dialog" aria-label={title} data-testid={testid}>
        <header class="modal-head">
          <h2>{title}</h2>
          {onClose && (
            <button type="button" class="btn ghost" onClick={onClose} aria-label="Esc">
              Esc <Icon name="close" />
            </button>
          )}
        </header>
        <div class="modal-body">{children}</div>
      </div>
    </div>
  );
}

type FieldProps = Omit<JSX.InputHTMLAttributes<HTMLInputElement>, 'value' | 'label'> & {
  label: string;
  value: string;
  onValue: (v: string) => void;
  testid?: string;
  autoFocusSelect?: boolean;
};

/** A labelled text field. */
export function Field({ label, value, onValue, testid, autoFocusSelect, ...rest }: FieldProps) {
  const ref = useRef<HTMLInputElement>(null);
  useLayoutEffect(() => {
    if (autoFocusSelect && ref.current) {
      ref.current.focus();
      ref.current.select();
    }
  }, []);
  return (
    <label class="field">
      <span>{label}</span>
      <input
        ref={ref}
        {...rest}
        value={value}
        data-testid={testid}
        onInput={(e) => onValue((e.currentTarget as HTMLInputElement).value)}
      />
    </label>
  );
}

/** The receipt or report as printed, on paper-like white. */
export function Paper({ lines, testid }: { lines: string[]; testid?: string }) {
  return (
    <pre class="paper" data-testid={testid}>
      {lines.join('\n')}
    </pre>
  );
}

/** A PIN pad whose keys append to / edit `value`. */
// The form's submit button under it is the one Enter: a second one in the
// pad took a row of a 768-pixel screen for nothing.
export function PinPad({ value, onValue }: { value: string; onValue: (v: string) => void }) {
  const keys = ['1', '2', '3', '4', '5', '6', '7', '8', '9', 'C', '0', 'back'];
  return (
    <div class="pinpad">
      {keys.map((k) => (
        <button
          type="button"
          key={k}
          class="btn pad"
          tabIndex={-1}
          onClick={() => {
            if (k === 'C') onValue('');
            else if (k === 'back') onValue(value.slice(0, -1));
            else if (value.length < 8) onValue(value + k);
          }}
          aria-label={k === 'back' ? 'Backspace' : undefined}
        >
          {k === 'back' ? <Icon name="backspace" /> : k}
        </button>
      ))}
    </div>
  );
}
