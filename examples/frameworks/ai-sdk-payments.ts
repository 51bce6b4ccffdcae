// Stands in for your payment provider in examples/frameworks/ai-sdk.ts.
export async function issueRefund(r: { customer: string; order: string; amount: number; currency: string }): Promise<{ refundId: string }> {
  return { refundId: `re_${r.order}_${r.amount}` };
}
