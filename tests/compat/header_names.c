/*
 * header_names.c - the names of the vendors' vipl.h headers (Intel's as
 * Iometer ships it, Giganet's as SQL Server's network library and MPICH
 * ship it, Argonne's modified Giganet header), as VIA code uses them.
 * Compiled in the build as C99, C11 and C++11 (-pedantic; header_names.cpp
 * includes this file): a name missing, or a constant that is not a macro,
 * or a value that differs, fails the build.
 *
 * VIA code guards its own fallbacks with #ifndef (an ARMCI port:
 * "#ifndef VIP_ERROR_NOT_SUPPORTED / #define VIP_ERROR_NOT_SUPPORTED
 * -33333"), so every constant must be a macro, enumerators included.
 */

/* Giganet programs that want Intel's descriptor spelling define VIPL095;
 * ours has both spellings whatever it says. */
#define VIPL095
#include <vipl.h>

/* The guard VIA code writes before its fallback. */
#ifndef VIP_ERROR_NOT_SUPPORTED
#define VIP_ERROR_NOT_SUPPORTED -33333
#endif

/* C99 has no static_assert: an array of size -1 is the error. */
#define VALUE(name, value) typedef char value_of_##name[(name) == (value) ? 1 : -1];

/* The vendors' include guards. */
#ifndef _VIPL_H
#error "_VIPL_H (Giganet's guard) is not defined"
#endif
#ifndef _VIPL_
#error "_VIPL_ (Intel's guard) is not defined"
#endif
#ifndef IN
#error "IN is not defined"
#endif
#ifndef OUT
#error "OUT is not defined"
#endif
#ifndef VI_CALL
#error "VI_CALL is not defined"
#endif

/* VIP_RETURN, from 0 (Giganet's 15-17 after VIP_NO_MATCH) */
#ifndef VIP_SUCCESS
#error "VIP_SUCCESS is not a macro"
#endif
VALUE(VIP_SUCCESS, 0)
#ifndef VIP_NOT_DONE
#error "VIP_NOT_DONE is not a macro"
#endif
VALUE(VIP_NOT_DONE, 1)
#ifndef VIP_INVALID_PARAMETER
#error "VIP_INVALID_PARAMETER is not a macro"
#endif
VALUE(VIP_INVALID_PARAMETER, 2)
#ifndef VIP_ERROR_RESOURCE
#error "VIP_ERROR_RESOURCE is not a macro"
#endif
VALUE(VIP_ERROR_RESOURCE, 3)
#ifndef VIP_TIMEOUT
#error "VIP_TIMEOUT is not a macro"
#endif
VALUE(VIP_TIMEOUT, 4)
#ifndef VIP_REJECT
#error "VIP_REJECT is not a macro"
#endif
VALUE(VIP_REJECT, 5)
#ifndef VIP_INVALID_RELIABILITY_LEVEL
#error "VIP_INVALID_RELIABILITY_LEVEL is not a macro"
#endif
VALUE(VIP_INVALID_RELIABILITY_LEVEL, 6)
#ifndef VIP_INVALID_MTU
#error "VIP_INVALID_MTU is not a macro"
#endif
VALUE(VIP_INVALID_MTU, 7)
#ifndef VIP_INVALID_QOS
#error "VIP_INVALID_QOS is not a macro"
#endif
VALUE(VIP_INVALID_QOS, 8)
#ifndef VIP_INVALID_PTAG
#error "VIP_INVALID_PTAG is not a macro"
#endif
VALUE(VIP_INVALID_PTAG, 9)
#ifndef VIP_INVALID_RDMAREAD
#error "VIP_INVALID_RDMAREAD is not a macro"
#endif
VALUE(VIP_INVALID_RDMAREAD, 10)
#ifndef VIP_DESCRIPTOR_ERROR
#error "VIP_DESCRIPTOR_ERROR is not a macro"
#endif
VALUE(VIP_DESCRIPTOR_ERROR, 11)
#ifndef VIP_INVALID_STATE
#error "VIP_INVALID_STATE is not a macro"
#endif
VALUE(VIP_INVALID_STATE, 12)
#ifndef VIP_ERROR_NAMESERVICE
#error "VIP_ERROR_NAMESERVICE is not a macro"
#endif
VALUE(VIP_ERROR_NAMESERVICE, 13)
#ifndef VIP_NO_MATCH
#error "VIP_NO_MATCH is not a macro"
#endif
VALUE(VIP_NO_MATCH, 14)
#ifndef VIP_NOT_REACHABLE
#error "VIP_NOT_REACHABLE is not a macro"
#endif
VALUE(VIP_NOT_REACHABLE, 15)
#ifndef VIP_ERROR_NOT_SUPPORTED
#error "VIP_ERROR_NOT_SUPPORTED is not a macro"
#endif
VALUE(VIP_ERROR_NOT_SUPPORTED, 16)
#ifndef VIP_ERROR
#error "VIP_ERROR is not a macro"
#endif
VALUE(VIP_ERROR, 17)

/* VIP_VI_STATE */
#ifndef VIP_STATE_IDLE
#error "VIP_STATE_IDLE is not a macro"
#endif
VALUE(VIP_STATE_IDLE, 0)
#ifndef VIP_STATE_CONNECTED
#error "VIP_STATE_CONNECTED is not a macro"
#endif
VALUE(VIP_STATE_CONNECTED, 1)
#ifndef VIP_STATE_CONNECT_PENDING
#error "VIP_STATE_CONNECT_PENDING is not a macro"
#endif
VALUE(VIP_STATE_CONNECT_PENDING, 2)
#ifndef VIP_STATE_ERROR
#error "VIP_STATE_ERROR is not a macro"
#endif
VALUE(VIP_STATE_ERROR, 3)

/* VIP_ERROR_CODE */
#ifndef VIP_ERROR_POST_DESC
#error "VIP_ERROR_POST_DESC is not a macro"
#endif
VALUE(VIP_ERROR_POST_DESC, 0)
#ifndef VIP_ERROR_CONN_LOST
#error "VIP_ERROR_CONN_LOST is not a macro"
#endif
VALUE(VIP_ERROR_CONN_LOST, 1)
#ifndef VIP_ERROR_RECVQ_EMPTY
#error "VIP_ERROR_RECVQ_EMPTY is not a macro"
#endif
VALUE(VIP_ERROR_RECVQ_EMPTY, 2)
#ifndef VIP_ERROR_VI_OVERRUN
#error "VIP_ERROR_VI_OVERRUN is not a macro"
#endif
VALUE(VIP_ERROR_VI_OVERRUN, 3)
#ifndef VIP_ERROR_RDMAW_PROT
#error "VIP_ERROR_RDMAW_PROT is not a macro"
#endif
VALUE(VIP_ERROR_RDMAW_PROT, 4)
#ifndef VIP_ERROR_RDMAW_DATA
#error "VIP_ERROR_RDMAW_DATA is not a macro"
#endif
VALUE(VIP_ERROR_RDMAW_DATA, 5)
#ifndef VIP_ERROR_RDMAW_ABORT
#error "VIP_ERROR_RDMAW_ABORT is not a macro"
#endif
VALUE(VIP_ERROR_RDMAW_ABORT, 6)
#ifndef VIP_ERROR_RDMAR_PROT
#error "VIP_ERROR_RDMAR_PROT is not a macro"
#endif
VALUE(VIP_ERROR_RDMAR_PROT, 7)
#ifndef VIP_ERROR_COMP_PROT
#error "VIP_ERROR_COMP_PROT is not a macro"
#endif
VALUE(VIP_ERROR_COMP_PROT, 8)
#ifndef VIP_ERROR_RDMA_TRANSPORT
#error "VIP_ERROR_RDMA_TRANSPORT is not a macro"
#endif
VALUE(VIP_ERROR_RDMA_TRANSPORT, 9)
#ifndef VIP_ERROR_CATASTROPHIC
#error "VIP_ERROR_CATASTROPHIC is not a macro"
#endif
VALUE(VIP_ERROR_CATASTROPHIC, 10)

/* VIP_RESOURCE_CODE */
#ifndef VIP_RESOURCE_NIC
#error "VIP_RESOURCE_NIC is not a macro"
#endif
VALUE(VIP_RESOURCE_NIC, 0)
#ifndef VIP_RESOURCE_VI
#error "VIP_RESOURCE_VI is not a macro"
#endif
VALUE(VIP_RESOURCE_VI, 1)
#ifndef VIP_RESOURCE_CQ
#error "VIP_RESOURCE_CQ is not a macro"
#endif
VALUE(VIP_RESOURCE_CQ, 2)
#ifndef VIP_RESOURCE_DESCRIPTOR
#error "VIP_RESOURCE_DESCRIPTOR is not a macro"
#endif
VALUE(VIP_RESOURCE_DESCRIPTOR, 3)

/* Booleans, timeouts, levels, alignment, CS.Control and CS.Status */
#ifndef VIP_TRUE
#error "VIP_TRUE is not a macro"
#endif
VALUE(VIP_TRUE, 1)
#ifndef VIP_FALSE
#error "VIP_FALSE is not a macro"
#endif
VALUE(VIP_FALSE, 0)
#ifndef VIP_INFINITE
#error "VIP_INFINITE is not a macro"
#endif
VALUE(VIP_INFINITE, 0xFFFFFFFF)
#ifndef VIP_SMI_AUTODISCOVERY
#error "VIP_SMI_AUTODISCOVERY is not a macro"
#endif
VALUE(VIP_SMI_AUTODISCOVERY, 1)
#ifndef VIP_DESCRIPTOR_ALIGNMENT
#error "VIP_DESCRIPTOR_ALIGNMENT is not a macro"
#endif
VALUE(VIP_DESCRIPTOR_ALIGNMENT, 64)
#ifndef VIP_SERVICE_UNRELIABLE
#error "VIP_SERVICE_UNRELIABLE is not a macro"
#endif
VALUE(VIP_SERVICE_UNRELIABLE, 1)
#ifndef VIP_SERVICE_RELIABLE_DELIVERY
#error "VIP_SERVICE_RELIABLE_DELIVERY is not a macro"
#endif
VALUE(VIP_SERVICE_RELIABLE_DELIVERY, 2)
#ifndef VIP_SERVICE_RELIABLE_RECEPTION
#error "VIP_SERVICE_RELIABLE_RECEPTION is not a macro"
#endif
VALUE(VIP_SERVICE_RELIABLE_RECEPTION, 4)
#ifndef VIP_BASE_SERVICES
#error "VIP_BASE_SERVICES is not a macro"
#endif
VALUE(VIP_BASE_SERVICES, 7)
#ifndef VIP_SERVICE_ACK
#error "VIP_SERVICE_ACK is not a macro"
#endif
VALUE(VIP_SERVICE_ACK, 0x4000)
#ifndef VIP_SERVICE_DFC
#error "VIP_SERVICE_DFC is not a macro"
#endif
VALUE(VIP_SERVICE_DFC, 0x8000)
#ifndef VIP_CONTROL_OP_SENDRECV
#error "VIP_CONTROL_OP_SENDRECV is not a macro"
#endif
VALUE(VIP_CONTROL_OP_SENDRECV, 0)
#ifndef VIP_CONTROL_OP_RDMAWRITE
#error "VIP_CONTROL_OP_RDMAWRITE is not a macro"
#endif
VALUE(VIP_CONTROL_OP_RDMAWRITE, 1)
#ifndef VIP_CONTROL_OP_RDMAREAD
#error "VIP_CONTROL_OP_RDMAREAD is not a macro"
#endif
VALUE(VIP_CONTROL_OP_RDMAREAD, 2)
#ifndef VIP_CONTROL_OP_RESERVED
#error "VIP_CONTROL_OP_RESERVED is not a macro"
#endif
VALUE(VIP_CONTROL_OP_RESERVED, 3)
#ifndef VIP_CONTROL_OP_MASK
#error "VIP_CONTROL_OP_MASK is not a macro"
#endif
VALUE(VIP_CONTROL_OP_MASK, 3)
#ifndef VIP_CONTROL_IMMEDIATE
#error "VIP_CONTROL_IMMEDIATE is not a macro"
#endif
VALUE(VIP_CONTROL_IMMEDIATE, 4)
#ifndef VIP_CONTROL_QFENCE
#error "VIP_CONTROL_QFENCE is not a macro"
#endif
VALUE(VIP_CONTROL_QFENCE, 8)
#ifndef VIP_CONTROL_RESERVED
#error "VIP_CONTROL_RESERVED is not a macro"
#endif
VALUE(VIP_CONTROL_RESERVED, 0xFFF0)
#ifndef VIP_STATUS_DONE
#error "VIP_STATUS_DONE is not a macro"
#endif
VALUE(VIP_STATUS_DONE, 1)
#ifndef VIP_STATUS_FORMAT_ERROR
#error "VIP_STATUS_FORMAT_ERROR is not a macro"
#endif
VALUE(VIP_STATUS_FORMAT_ERROR, 2)
#ifndef VIP_STATUS_PROTECTION_ERROR
#error "VIP_STATUS_PROTECTION_ERROR is not a macro"
#endif
VALUE(VIP_STATUS_PROTECTION_ERROR, 4)
#ifndef VIP_STATUS_LENGTH_ERROR
#error "VIP_STATUS_LENGTH_ERROR is not a macro"
#endif
VALUE(VIP_STATUS_LENGTH_ERROR, 8)
#ifndef VIP_STATUS_PARTIAL_ERROR
#error "VIP_STATUS_PARTIAL_ERROR is not a macro"
#endif
VALUE(VIP_STATUS_PARTIAL_ERROR, 16)
#ifndef VIP_STATUS_DESC_FLUSHED_ERROR
#error "VIP_STATUS_DESC_FLUSHED_ERROR is not a macro"
#endif
VALUE(VIP_STATUS_DESC_FLUSHED_ERROR, 32)
#ifndef VIP_STATUS_TRANSPORT_ERROR
#error "VIP_STATUS_TRANSPORT_ERROR is not a macro"
#endif
VALUE(VIP_STATUS_TRANSPORT_ERROR, 64)
#ifndef VIP_STATUS_RDMA_PROT_ERROR
#error "VIP_STATUS_RDMA_PROT_ERROR is not a macro"
#endif
VALUE(VIP_STATUS_RDMA_PROT_ERROR, 0x80)
#ifndef VIP_STATUS_REMOTE_DESC_ERROR
#error "VIP_STATUS_REMOTE_DESC_ERROR is not a macro"
#endif
VALUE(VIP_STATUS_REMOTE_DESC_ERROR, 0x100)
#ifndef VIP_STATUS_ERROR_MASK
#error "VIP_STATUS_ERROR_MASK is not a macro"
#endif
VALUE(VIP_STATUS_ERROR_MASK, 0x1FE)
#ifndef VIP_STATUS_OP_SEND
#error "VIP_STATUS_OP_SEND is not a macro"
#endif
VALUE(VIP_STATUS_OP_SEND, 0)
#ifndef VIP_STATUS_OP_RECEIVE
#error "VIP_STATUS_OP_RECEIVE is not a macro"
#endif
VALUE(VIP_STATUS_OP_RECEIVE, 0x10000)
#ifndef VIP_STATUS_OP_RDMA_WRITE
#error "VIP_STATUS_OP_RDMA_WRITE is not a macro"
#endif
VALUE(VIP_STATUS_OP_RDMA_WRITE, 0x20000)
#ifndef VIP_STATUS_OP_REMOTE_RDMA_WRITE
#error "VIP_STATUS_OP_REMOTE_RDMA_WRITE is not a macro"
#endif
VALUE(VIP_STATUS_OP_REMOTE_RDMA_WRITE, 0x30000)
#ifndef VIP_STATUS_OP_RDMA_READ
#error "VIP_STATUS_OP_RDMA_READ is not a macro"
#endif
VALUE(VIP_STATUS_OP_RDMA_READ, 0x40000)
#ifndef VIP_STATUS_OP_MASK
#error "VIP_STATUS_OP_MASK is not a macro"
#endif
VALUE(VIP_STATUS_OP_MASK, 0x70000)
#ifndef VIP_STATUS_IMMEDIATE
#error "VIP_STATUS_IMMEDIATE is not a macro"
#endif
VALUE(VIP_STATUS_IMMEDIATE, 0x80000)
#ifndef VIP_STATUS_RESERVED
#error "VIP_STATUS_RESERVED is not a macro"
#endif
VALUE(VIP_STATUS_RESERVED, 0xFFF0FE00)

/* The enumerators keep their enum types (C++ would refuse an int here),
 * and the enums carry the vendors' tags. */
static VIP_RETURN ret_of_success = VIP_SUCCESS;
static VIP_VI_STATE idle_state = VIP_STATE_IDLE;
static enum _VIP_ERROR_CODE tagged_error = VIP_ERROR_CONN_LOST;
static enum _VIP_RESOURCE_CODE tagged_resource = VIP_RESOURCE_VI;

/* Every type both headers name, Giganet's extras included. */
struct vipl_header_types {
	VIP_PVOID pvoid;
	VIP_BOOLEAN boolean;
	VIP_CHAR ch;
	VIP_UCHAR uch;
	VIP_SHORT sh;
	VIP_USHORT ush;
	VIP_LONG lg;
	VIP_ULONG ulg;
	VIP_WCHAR wch;
	VIP_UINT8 u8;
	VIP_UINT16 u16;
	VIP_UINT32 u32;
	VIP_UINT64 u64;
	VIP_QOS qos;
	VIP_NIC_HANDLE nic;
	VIP_VI_HANDLE vi;
	VIP_PROTECTION_HANDLE ptag;
	VIP_CONN_HANDLE conn;
	VIP_CQ_HANDLE cq;
	VIP_EVENT_HANDLE event;
	VIP_MEM_HANDLE mh;
	VIP_RELIABILITY_LEVEL level;
	struct _VIP_NET_ADDRESS *net_address;
	VIP_NIC_ATTRIBUTES nic_attrs;
	struct _VIP_NIC_ATTRIBUTES *tagged_nic_attrs;
	VIP_VI_ATTRIBUTES vi_attrs;
	struct _VIP_VI_ATTRIBUTES *tagged_vi_attrs;
	VIP_MEM_ATTRIBUTES mem_attrs;
	struct _VIP_MEM_ATTRIBUTES *tagged_mem_attrs;
	VIP_PVOID64 pvoid64;
	VIP_CONTROL_SEGMENT cs;
	VIP_ADDRESS_SEGMENT as;
	VIP_DATA_SEGMENT ds;
	VIP_DESCRIPTOR_SEGMENT dseg;
	VIP_DESCRIPTOR *desc;
	struct _VIP_DESCRIPTOR *tagged_desc;
	VIP_ERROR_DESCRIPTOR error_desc;
	struct _VIP_ERROR_DESCRIPTOR *tagged_error_desc;
	VIP_AUTODISCOVERY_LIST ad_list;
	VIP_ERROR_HANDLER error_handler;
	VIP_VI_CALLBACK vi_callback;
	VIP_CQ_CALLBACK cq_callback;
	VIP_RETURN ret;
	VIP_VI_STATE state;
	VIP_ERROR_CODE error_code;
	VIP_RESOURCE_CODE resource_code;
};

/* Every function both vendors declare (and Intel's), with their types. */
typedef void (*vipl_any_fn)(void);

static const vipl_any_fn vipl_header_functions[] = {
	(vipl_any_fn)VipOpenNic, (vipl_any_fn)VipCloseNic, (vipl_any_fn)VipQueryNic,
	(vipl_any_fn)VipCreatePtag, (vipl_any_fn)VipDestroyPtag,
	(vipl_any_fn)VipRegisterMem, (vipl_any_fn)VipDeregisterMem, (vipl_any_fn)VipQueryMem,
	(vipl_any_fn)VipSetMemAttributes, (vipl_any_fn)VipErrorCallback,
	(vipl_any_fn)VipQuerySystemManagementInfo, (vipl_any_fn)VipCreateVi,
	(vipl_any_fn)VipDestroyVi, (vipl_any_fn)VipQueryVi, (vipl_any_fn)VipSetViAttributes,
	(vipl_any_fn)VipPostSend, (vipl_any_fn)VipSendDone, (vipl_any_fn)VipSendWait,
	(vipl_any_fn)VipSendNotify, (vipl_any_fn)VipPostRecv, (vipl_any_fn)VipRecvDone,
	(vipl_any_fn)VipRecvWait, (vipl_any_fn)VipRecvNotify, (vipl_any_fn)VipConnectWait,
	(vipl_any_fn)VipConnectAccept, (vipl_any_fn)VipConnectReject,
	(vipl_any_fn)VipConnectRequest, (vipl_any_fn)VipDisconnect,
	(vipl_any_fn)VipGetUserData, (vipl_any_fn)VipSetUserData, (vipl_any_fn)VipCreateCQ,
	(vipl_any_fn)VipDestroyCQ, (vipl_any_fn)VipResizeCQ, (vipl_any_fn)VipCQDone,
	(vipl_any_fn)VipCQWait, (vipl_any_fn)VipCQNotify, (vipl_any_fn)VipNSInit,
	(vipl_any_fn)VipNSGetHostByName, (vipl_any_fn)VipNSGetHostByAddr,
	(vipl_any_fn)VipNSShutdown, (vipl_any_fn)VipConnectPeerRequest,
	(vipl_any_fn)VipConnectPeerDone, (vipl_any_fn)VipConnectPeerWait,
	(vipl_any_fn)VipAddTagCQ, (vipl_any_fn)VipRemoveTagCQ,
	(vipl_any_fn)VipPostDeferredSends,
};

#ifdef __cplusplus
extern "C" int vipl_header_names_cxx(void);
int vipl_header_names_cxx(void)
#elif __STDC_VERSION__ >= 201112L
int vipl_header_names_c11(void);
int vipl_header_names_c11(void)
#else
int vipl_header_names_c99(void);
int vipl_header_names_c99(void)
#endif
{
	struct vipl_header_types t;
	VIP_DESCRIPTOR d;

	/* Both spellings, VIPL095 or not. */
	d.CS.Length = 1;
	d.Control.SegCount = 0;
	d.DS[0].Local.Length = 0;
	d.Data[0].Length = 0;
	t.level = VIP_BASE_SERVICES | VIP_SERVICE_ACK;
	return (int)(sizeof(t) + d.CS.Length + ret_of_success + idle_state +
		     tagged_error + tagged_resource + t.level) +
	       (vipl_header_functions[0] != 0);
}
