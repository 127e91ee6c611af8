/**
 * A labelled field that validates as you type: `validate` runs on every change once the field
 * was touched, and the gateway's refusal (`serverError`, placed by serverErrorPlacement.ts)
 * shows in the same spot until the value changes. The label is the accessible name.
 */
import { type ReactNode, useId, useState } from 'react';

export function FormField({
  label,
  hint,
  error,
  serverError,
  children,
}: {
  label: string;
  hint?: string;
  /** The client-side rule's message for the current value (null: fine). */
  error: string | null;
  serverError?: string | null;
  /** The control; receives its id and description props. */
  children(control: {
    id: string;
    'aria-invalid': boolean;
    'aria-describedby': string | undefined;
    onBlur(): void;
    touch(): void;
  }): ReactNode;
}) {
  const id = useId();
  const [touched, setTouched] = useState(false);
  const shown = serverError ?? (touched ? error : null);
  const described = [hint ? `${id}-hint` : null, shown ? `${id}-error` : null]
    .filter(Boolean)
    .join(' ');
  return (
    <div className={`field${shown ? ' field-invalid' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children({
        id,
        'aria-invalid': shown !== null,
        'aria-describedby': described || undefined,
        onBlur: () => setTouched(true),
        touch: () => setTouched(true),
      })}
      {hint ? (
        <p id={`${id}-hint`} className="field-hint">
          {hint}
        </p>
      ) : null}
      {shown ? (
        <p id={`${id}-error`} className="field-error">
          {shown}
        </p>
      ) : null}
    </div>
  );
}

/** A text input inside FormField. */
export function TextInput({
  label,
  value,
  onChange,
  validate,
  serverError,
  hint,
  type = 'text',
  placeholder,
}: {
  label: string;
  value: string;
  onChange(value: string): void;
  validate?(value: string): string | null;
  serverError?: string | null;
  hint?: string;
  type?: 'text' | 'number' | 'datetime-local';
  placeholder?: string;
}) {
  return (
    <FormField
      label={label}
      hint={hint}
      error={validate?.(value) ?? null}
      serverError={serverError ?? null}
    >
      {({ touch, ...control }) => (
        <input
          {...control}
          type={type}
          value={value}
          placeholder={placeholder}
          spellCheck={false}
          onChange={(e) => {
            touch();
            onChange(e.target.value);
          }}
        />
      )}
    </FormField>
  );
}

/** A choice of one inside FormField: an empty first option that says what to choose. */
export function SelectInput({
  label,
  value,
  onChange,
  validate,
  serverError,
  disabled,
  placeholder,
  options,
}: {
  label: string;
  value: string;
  onChange(value: string): void;
  validate?(value: string): string | null;
  serverError?: string | null;
  disabled?: boolean;
  /** The empty option's words, e.g. "Choose a user…". */
  placeholder: string;
  options: readonly { value: string; label: string }[];
}) {
  return (
    <FormField label={label} error={validate?.(value) ?? null} serverError={serverError ?? null}>
      {({ touch, ...control }) => (
        <select
          {...control}
          disabled={disabled}
          value={value}
          onChange={(e) => {
            touch();
            onChange(e.target.value);
          }}
        >
          <option value="">{placeholder}</option>
          {options.map((option) => (
            <option key={option.value} value={option.value}>
              {option.label}
            </option>
          ))}
        </select>
      )}
    </FormField>
  );
}
