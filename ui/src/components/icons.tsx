// Icons drawn as SVG (lucide), never as emoji or symbol characters: a till
// without an emoji font would show empty boxes. Text uses the bundled Noto
// Sans (fonts.css); a test checks every character on screen is in it.

import {
  ArrowUp,
  Ban,
  Check,
  Circle,
  CircleDashed,
  CornerDownLeft,
  Delete,
  Hourglass,
  House,
  Lock,
  Menu,
  Printer,
  RefreshCw,
  TriangleAlert,
  User,
  X,
  type LucideIcon,
} from 'lucide-preact';

const ICONS = {
  backspace: Delete,
  close: X,
  done: Check,
  enter: CornerDownLeft,
  home: House,
  lock: Lock,
  menu: Menu,
  online: Circle,
  print: Printer,
  refused: Ban,
  sync: RefreshCw,
  up: ArrowUp,
  user: User,
  waiting: CircleDashed,
  wait: Hourglass,
  warn: TriangleAlert,
} satisfies Record<string, LucideIcon>;

export type IconName = keyof typeof ICONS;

/** An icon the size of the text around it. */
export function Icon({ name }: { name: IconName }) {
  const Svg = ICONS[name];
  return <Svg size="1.1em" aria-hidden={true} class={`ico ico-${name}`} />;
}
