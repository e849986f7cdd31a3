// Icons drawn as SVG (lucide), never as emoji or symbol characters: a till
// without an emoji font would show empty boxes. Text uses the bundled Noto
// Sans (fonts.css); a test checks every character on screen is in it.

import {
  ArrowUp,
  Ban,
  Banknote,
  Check,
  Circle,
  CircleDashed,
  CornerDownLeft,
  CreditCard,
  Delete,
  Hourglass,
  House,
  Lock,
  Menu,
  Printer,
  QrCode,
  RefreshCw,
  Smartphone,
  Store,
  Ticket,
  TriangleAlert,
  User,
  X,
  type LucideIcon,
} from 'lucide-preact';

const ICONS = {
  backspace: Delete,
  card: CreditCard,
  cash: Banknote,
  close: X,
  done: Check,
  enter: CornerDownLeft,
  home: House,
  lock: Lock,
  menu: Menu,
  online: Circle,
  phone: Smartphone,
  print: Printer,
  qr: QrCode,
  refused: Ban,
  store: Store,
  sync: RefreshCw,
  up: ArrowUp,
  user: User,
  voucher: Ticket,
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
