/**
 * Word lists the generator draws from. Kept apart from the logic so realism can be tuned without
 * touching it. Domains are Microsoft's fictitious example companies and big consumer providers;
 * nothing here names a real person.
 */

export const FIRST_NAMES = [
  'adele',
  'alex',
  'allan',
  'anna',
  'ben',
  'carlos',
  'chen',
  'christie',
  'debra',
  'diego',
  'elena',
  'emily',
  'enrico',
  'fatima',
  'grady',
  'hana',
  'henrietta',
  'irvin',
  'isaiah',
  'jakob',
  'joni',
  'jun',
  'karim',
  'kenji',
  'lee',
  'leila',
  'lidia',
  'lucas',
  'lynne',
  'marta',
  'megan',
  'miriam',
  'nestor',
  'nora',
  'olga',
  'omar',
  'patti',
  'pradeep',
  'priya',
  'raul',
  'sara',
  'sofia',
  'tomas',
  'wei',
  'yuki',
  'zoe',
] as const;

export const LAST_NAMES = [
  'adams',
  'bowen',
  'cho',
  'dubois',
  'eriksen',
  'fernandes',
  'garcia',
  'gupta',
  'hansen',
  'holloway',
  'ito',
  'johansson',
  'kowalski',
  'langer',
  'li',
  'martin',
  'mendes',
  'meyer',
  'moreau',
  'nakamura',
  'novak',
  'okafor',
  'olsen',
  'patel',
  'rossi',
  'sato',
  'schmidt',
  'siciliani',
  'silva',
  'smith',
  'tanaka',
  'vance',
  'wagner',
  'wang',
  'wilber',
  'wilson',
  'yamada',
  'zhang',
] as const;

/** Lists every tenant might have; each tenant keeps a seeded subset. */
export const LIST_NAMES = [
  'all-staff',
  'announcements',
  'finance',
  'sales',
  'marketing',
  'it-ops',
  'hr',
  'support',
  'engineering',
  'legal',
  'executives',
  'office-paris',
  'office-tokyo',
  'project-atlas',
  'security-alerts',
  'procurement',
] as const;

/** Partners and providers mail comes from and goes to. Tenants weight them differently. */
export const EXTERNAL_DOMAINS = [
  'fabrikam.com',
  'gmail.com',
  'outlook.com',
  'northwindtraders.com',
  'adatum.com',
  'tailspintoys.com',
  'wingtiptoys.com',
  'woodgrovebank.com',
  'litwareinc.com',
  'proseware.com',
  'fourthcoffee.com',
  'alpineskihouse.com',
  'treyresearch.net',
  'wideworldimporters.com',
  'adventure-works.com',
  'lucernepublishing.com',
  'margiestravel.com',
  'blueyonderairlines.com',
  'cohowinery.com',
  'graphicdesigninstitute.com',
  'yahoo.com',
  'icloud.com',
  'gmx.de',
  'orange.fr',
  'qq.com',
  'naver.com',
  'mail.example.org',
] as const;

/** Where spam and phish come from in this world. */
export const SPAM_DOMAINS = [
  'promo-deals.example',
  'secure-login-update.example',
  'invoice-portal.example',
  'lottery-winner.example',
  'cheap-meds.example',
] as const;

export const EXTERNAL_ROLES = [
  'noreply',
  'no-reply',
  'billing',
  'support',
  'newsletter',
  'notifications',
  'info',
  'orders',
  'hr-team',
  'accounts',
] as const;

/**
 * Subjects: plain, accented, CJK, right-to-left, emoji, quotes and tabs (which break naive CSV and
 * JSON handling). `{n}` becomes a number so subjects repeat without being identical.
 */
export const SUBJECTS = [
  'Monthly report',
  'Weekly digest 📬',
  'Invoice #{n} overdue',
  'Q{q} budget review',
  'Meeting notes',
  'Lunch on Friday?',
  'Your package is on its way',
  'Password expires in {q} days',
  'Action required: sign the contract',
  'Réunion de lancement — {n}',
  'Angebot für Projekt {n}',
  'Reunión: presupuesto año fiscal',
  'Ordem de compra nº {n}',
  '会议邀请: 项目 {n}',
  '見積書の送付について',
  '회의 일정 변경',
  'Отчёт за квартал',
  'تقرير المبيعات الشهري',
  'עדכון פרויקט',
  'Happy birthday! 🎉🎂',
  '✅ Build #{n} passed',
  '⚠️ Disk space low on srv-{q}',
  '"Urgent": wire transfer needed',
  'Draft\tversion {q}',
  'Re: Re: Fwd: travel plans ✈️',
  'Zoë’s onboarding checklist',
] as const;

export const SPAM_SUBJECTS = [
  'You have won!!! Claim your prize',
  'Your mailbox is full — verify now',
  'Invoice {n} payment failed',
  'Ｆｒｅｅ　ｇｉｆｔ ｃａｒｄ 🎁',
  'Unusual sign-in activity',
  'Cheap meds, no prescription',
] as const;

/** Exchange Online mailbox servers by region: descriptions and data blobs name one. */
export const SERVER_REGIONS = [
  { prefix: 'AM6PR', infix: 'eurprd', suffix: 'prod.outlook.com' },
  { prefix: 'DB9PR', infix: 'eurprd', suffix: 'prod.outlook.com' },
  { prefix: 'SN4PR', infix: 'namprd', suffix: 'prod.outlook.com' },
  { prefix: 'MN2PR', infix: 'namprd', suffix: 'prod.outlook.com' },
  { prefix: 'TYZPR', infix: 'apcprd', suffix: 'prod.outlook.com' },
] as const;

/** Office time zones tenants live in (hours east of UTC): the daily curve follows local time. */
export const UTC_OFFSETS = [-8, -5, -3, 0, 1, 2, 3, 5.5, 8, 9, 10] as const;

/** Recipient-side failures (the recipient is in an accepted domain, or the remote side refused). */
export const INTERNAL_FAILURES = [
  '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup',
  '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found',
  '550 5.2.2 STOREDRV.Deliver; mailbox full',
  '550 5.7.1 RESOLVER.RST.AuthRequired; authentication required',
] as const;

export const REMOTE_FAILURES = [
  '550 5.1.1 <{to}>: Recipient address rejected: User unknown in virtual mailbox table',
  '550 5.7.1 Service unavailable; Client host blocked using Spamhaus',
  '552 5.2.2 Mailbox full',
  '554 5.7.1 Message rejected due to content restrictions',
] as const;

/** Why a message waits in the queue (the `Defer` events of a Pending row). */
export const DEFERRALS = [
  '451 4.4.0 DNS query failed. The error was: SMTPSEND.DNS.NonExistentDomain; nonexistent domain',
  '451 4.7.500 Server busy. Please try again later',
  '421 4.4.2 Connection dropped due to SocketError',
  '450 4.2.1 The user you are trying to contact is receiving mail too quickly',
] as const;

/** What the last retry reports when a deferred message gives up. */
export const EXPIRY = '550 4.4.7 QUEUE.Expired; message expired';

export const QUARANTINE_REASONS = ['High confidence phish', 'Malware', 'High confidence spam'] as const;
