/*
 * impl_names.h - the VIPL layer's implementations of the API under
 * internal names (vipl_impl_VipOpenNic...), so that the exported Vip*
 * symbols can be the thin wrappers of vipl/trace.c (VIPL_TRACE).
 *
 * vipl/internal.h includes this before vipl.h, so the prototypes the
 * implementations see are renamed too and stay type-checked against the
 * header. trace.c defines VIPL_TRACE_WRAPPERS to see the public names.
 * Built with VIPL_NO_TRACE (cmake -DVIPL_TRACE=OFF), nothing is renamed:
 * the implementations are the exported symbols and trace.c is empty.
 * Keep the list in step with the functions of vipl.h.
 */
#ifndef VIPL_IMPL_NAMES_H
#define VIPL_IMPL_NAMES_H

#if !defined(VIPL_NO_TRACE) && !defined(VIPL_TRACE_WRAPPERS)
#define VipOpenNic vipl_impl_VipOpenNic
#define VipCloseNic vipl_impl_VipCloseNic
#define VipQueryNic vipl_impl_VipQueryNic
#define VipCreatePtag vipl_impl_VipCreatePtag
#define VipDestroyPtag vipl_impl_VipDestroyPtag
#define VipRegisterMem vipl_impl_VipRegisterMem
#define VipDeregisterMem vipl_impl_VipDeregisterMem
#define VipQueryMem vipl_impl_VipQueryMem
#define VipSetMemAttributes vipl_impl_VipSetMemAttributes
#define VipCreateVi vipl_impl_VipCreateVi
#define VipDestroyVi vipl_impl_VipDestroyVi
#define VipQueryVi vipl_impl_VipQueryVi
#define VipSetViAttributes vipl_impl_VipSetViAttributes
#define VipPostSend vipl_impl_VipPostSend
#define VipSendDone vipl_impl_VipSendDone
#define VipSendWait vipl_impl_VipSendWait
#define VipSendNotify vipl_impl_VipSendNotify
#define VipPostRecv vipl_impl_VipPostRecv
#define VipRecvDone vipl_impl_VipRecvDone
#define VipRecvWait vipl_impl_VipRecvWait
#define VipRecvNotify vipl_impl_VipRecvNotify
#define VipCreateCQ vipl_impl_VipCreateCQ
#define VipDestroyCQ vipl_impl_VipDestroyCQ
#define VipResizeCQ vipl_impl_VipResizeCQ
#define VipCQDone vipl_impl_VipCQDone
#define VipCQWait vipl_impl_VipCQWait
#define VipCQNotify vipl_impl_VipCQNotify
#define VipConnectWait vipl_impl_VipConnectWait
#define VipConnectAccept vipl_impl_VipConnectAccept
#define VipConnectReject vipl_impl_VipConnectReject
#define VipConnectRequest vipl_impl_VipConnectRequest
#define VipDisconnect vipl_impl_VipDisconnect
#define VipConnectPeerRequest vipl_impl_VipConnectPeerRequest
#define VipConnectPeerDone vipl_impl_VipConnectPeerDone
#define VipConnectPeerWait vipl_impl_VipConnectPeerWait
#define VipNSInit vipl_impl_VipNSInit
#define VipNSGetHostByName vipl_impl_VipNSGetHostByName
#define VipNSGetHostByAddr vipl_impl_VipNSGetHostByAddr
#define VipNSShutdown vipl_impl_VipNSShutdown
#define VipErrorCallback vipl_impl_VipErrorCallback
#define VipQuerySystemManagementInfo vipl_impl_VipQuerySystemManagementInfo
#define VipQuerySystemManagementInfoClan vipl_impl_VipQuerySystemManagementInfoClan
#define VipAddTagCQ vipl_impl_VipAddTagCQ
#define VipRemoveTagCQ vipl_impl_VipRemoveTagCQ
#define VipPostDeferredSends vipl_impl_VipPostDeferredSends
#define VipGetUserData vipl_impl_VipGetUserData
#define VipSetUserData vipl_impl_VipSetUserData
#endif

#endif
