import type { RecordStatus, RecordType } from '../../db/schema.js';
import type { DocumentLocale } from './format.js';

/** How a record was or will be paid, as a document names it. */
export type PaymentMethodName = 'credit_balance' | 'manual' | 'sandbox' | 'payg_deduction';

export interface DocumentLabels {
  title: string;
  draft: string;
  notATaxInvoice: string;
  issuer: string;
  billTo: string;
  taxId: string;
  email: string;
  phone: string;
  tenantId: string;
  invoiceNumber: string;
  issueDate: string;
  dueDate: string;
  servicePeriod: string;
  status: string;
  paymentMethod: string;
  currency: string;
  type: string;
  app: string;
  none: string;
  lines: string;
  lineHeaders: readonly [string, string, string, string, string, string, string, string];
  usage: string;
  usageHeaders: readonly [string, string, string, string, string, string];
  payg: string;
  paygHeaders: readonly [string, string, string, string, string, string, string, string, string, string];
  subtotal: string;
  tax: string;
  total: string;
  paidFromBalance: string;
  amountDue: string;
  statuses: Record<RecordStatus, string>;
  types: Record<RecordType, string>;
  paymentMethods: Record<PaymentMethodName, string>;
  page: (page: number, pages: number) => string;
  periodRange: (from: string, to: string) => string;
  /** Joins the items of a short list: `、` in Chinese, `, ` in English. */
  listSeparator: string;
}

const zh: DocumentLabels = {
  title: '账单',
  draft: '草稿',
  notATaxInvoice: '本账单为结算对账单，不是税务发票；增值税发票由税务系统另行开具。',
  issuer: '开具方',
  billTo: '客户',
  taxId: '税号',
  email: '邮箱',
  phone: '电话',
  tenantId: '租户编号',
  invoiceNumber: '账单编号',
  issueDate: '开具日期',
  dueDate: '到期日',
  servicePeriod: '服务期间',
  status: '状态',
  paymentMethod: '支付方式',
  currency: '币种',
  type: '类型',
  app: '应用',
  none: '—',
  lines: '明细',
  lineHeaders: ['#', '描述', '资源类型', '数量', '单价', '金额', '税率', '税额'],
  usage: '用量',
  usageHeaders: ['资源类型', '期间', '已用', '套餐内', '超额', '超额金额'],
  payg: '按量付费扣款明细',
  paygHeaders: ['日期', '应用', '产品', '用量', '金额', '优惠券', '储值卡', '现金', '云市场', '欠款'],
  subtotal: '小计',
  tax: '税额',
  total: '合计',
  paidFromBalance: '余额已付',
  amountDue: '应付金额',
  statuses: { draft: '草稿', pending: '待支付', paid: '已支付', failed: '支付失败', refunded: '已退款' },
  types: {
    subscription: '订阅',
    usage: '用量',
    proration: '按比例调整',
    payg: '按量付费',
    top_up: '充值',
    one_time: '一次性',
  },
  paymentMethods: {
    credit_balance: '账户余额',
    manual: '线下支付',
    sandbox: '沙箱支付',
    payg_deduction: '按量付费扣款',
  },
  page: (page, pages) => `第 ${page} / ${pages} 页`,
  periodRange: (from, to) => `${from} 至 ${to}`,
  listSeparator: '、',
};

const en: DocumentLabels = {
  title: 'Invoice',
  draft: 'DRAFT',
  notATaxInvoice: 'This is a billing statement, not a tax invoice (fapiao); tax invoices are issued separately.',
  issuer: 'From',
  billTo: 'Bill to',
  taxId: 'Tax ID',
  email: 'Email',
  phone: 'Phone',
  tenantId: 'Tenant ID',
  invoiceNumber: 'Invoice number',
  issueDate: 'Issue date',
  dueDate: 'Due date',
  servicePeriod: 'Service period',
  status: 'Status',
  paymentMethod: 'Payment method',
  currency: 'Currency',
  type: 'Type',
  app: 'Application',
  none: '—',
  lines: 'Lines',
  lineHeaders: ['#', 'Description', 'Resource', 'Quantity', 'Unit price', 'Amount', 'Tax rate', 'Tax'],
  usage: 'Usage',
  usageHeaders: ['Resource', 'Period', 'Used', 'Included', 'Overage', 'Overage amount'],
  payg: 'Pay-as-you-go deductions',
  paygHeaders: ['Day', 'App', 'Product', 'Usage', 'Amount', 'Coupon', 'Stored card', 'Cash', 'Marketplace', 'Owed'],
  subtotal: 'Subtotal',
  tax: 'Tax',
  total: 'Total',
  paidFromBalance: 'Paid from credit balance',
  amountDue: 'Amount due',
  statuses: { draft: 'Draft', pending: 'Pending', paid: 'Paid', failed: 'Payment failed', refunded: 'Refunded' },
  types: {
    subscription: 'Subscription',
    usage: 'Usage',
    proration: 'Proration',
    payg: 'Pay-as-you-go',
    top_up: 'Top-up',
    one_time: 'One-time',
  },
  paymentMethods: {
    credit_balance: 'Credit balance',
    manual: 'Offline (bank transfer)',
    sandbox: 'Sandbox provider',
    payg_deduction: 'Pay-as-you-go deduction',
  },
  page: (page, pages) => `Page ${page} / ${pages}`,
  periodRange: (from, to) => `${from} – ${to}`,
  listSeparator: ', ',
};

export const labelsFor: Record<DocumentLocale, DocumentLabels> = { 'zh-CN': zh, en };
