/*
 * pending.c - entry points whose work belongs to later milestones
 * (Giganet's vendor calls).
 * Every symbol exists so that VIA programs link; each answers
 * VIP_ERROR_NOT_SUPPORTED until its implementation lands in a file named
 * for it.
 */
#include "internal.h"

/* The parameters are there for the signatures only. */
#pragma GCC diagnostic ignored "-Wunused-parameter"

VIP_RETURN VipAddTagCQ(VIP_CQ_HANDLE q, VIP_EVENT_HANDLE *e, VIP_ULONG t,
		       VIP_ULONG p)
{
	return VIP_ERROR_NOT_SUPPORTED;
}

VIP_RETURN VipRemoveTagCQ(VIP_CQ_HANDLE q, VIP_EVENT_HANDLE e, VIP_ULONG t)
{
	return VIP_ERROR_NOT_SUPPORTED;
}

VIP_RETURN VipPostDeferredSends(VIP_VI_HANDLE v, VIP_BOOLEAN e, VIP_BOOLEAN *d)
{
	return VIP_ERROR_NOT_SUPPORTED;
}
