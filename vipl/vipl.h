/*
 * vipl.h - the VI Provider Library (VIPL 1.0) API, implemented by libvipl
 * on rdma-core verbs and librdmacm.
 *
 * One header for both historical dialects (see docs in
 * shared/reference/vipl-api.md section 4):
 *   - Intel / M-VIA:  desc->CS.Length, desc->DS[i].Local, desc->DS[0].Remote
 *   - Giganet cLAN:   desc->Control.Length, desc->Data[i].Handle, the extra
 *                     typedefs and return codes, VIP_SERVICE_DFC, and the
 *                     vendor calls (VipGetUserData, VipPostDeferredSends...).
 * Both spellings name the same bytes (anonymous unions), so the layout is
 * the one every VIA program expects: 32-byte control segment, 16-byte
 * segments, 64-byte aligned descriptors.
 *
 * Fields the provider writes while a descriptor is posted (Status, Length,
 * ImmediateData) are volatile so that programs spinning on
 * CS.Status & VIP_STATUS_DONE see the update.
 */
#ifndef VIPL_H
#define VIPL_H
/* The vendors' own guards (Giganet's, Intel's as Iometer ships it): code
 * that tests them finds a VIPL header, and a vendor copy included after
 * this one stays out instead of redefining every type. */
#define _VIPL_H
#define _VIPL_ 1

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Anonymous unions are C11/C++; __extension__ keeps -pedantic C99 quiet. */
#if defined(__GNUC__)
#define VIP_EXTENSION __extension__
#else
#define VIP_EXTENSION
#endif

/* Documentation markers and calling convention of the historical headers. */
#ifndef IN
#define IN
#endif
#ifndef OUT
#define OUT
#endif
#ifndef VI_CALL
#define VI_CALL
#endif

/* ------------------------------------------------------------------ */
/* Basic types (Linux, LP64)                                           */
/* ------------------------------------------------------------------ */

typedef void *VIP_PVOID;
typedef int VIP_BOOLEAN;
typedef char VIP_CHAR;
typedef unsigned char VIP_UCHAR;
typedef short VIP_SHORT;
typedef unsigned short VIP_USHORT;
typedef long VIP_LONG;
typedef unsigned long VIP_ULONG;
typedef wchar_t VIP_WCHAR;
typedef uint8_t VIP_UINT8;
typedef uint16_t VIP_UINT16;
typedef uint32_t VIP_UINT32;
typedef uint64_t VIP_UINT64;

#define VIP_TRUE 1
#define VIP_FALSE 0

/* Timeouts are in milliseconds; any value >= VIP_INFINITE waits forever. */
#define VIP_INFINITE 0xFFFFFFFFUL

typedef VIP_PVOID VIP_QOS;
typedef VIP_PVOID VIP_NIC_HANDLE;
typedef VIP_PVOID VIP_VI_HANDLE;
typedef VIP_PVOID VIP_PROTECTION_HANDLE;
typedef VIP_PVOID VIP_CONN_HANDLE;
typedef VIP_PVOID VIP_CQ_HANDLE;
typedef VIP_PVOID VIP_EVENT_HANDLE;

/* Travels to the peer inside messages (address segments): a plain number. */
typedef VIP_UINT32 VIP_MEM_HANDLE;

/* Reliability levels: a bit mask. */
typedef VIP_USHORT VIP_RELIABILITY_LEVEL;
#define VIP_SERVICE_UNRELIABLE 0x01
#define VIP_SERVICE_RELIABLE_DELIVERY 0x02
#define VIP_SERVICE_RELIABLE_RECEPTION 0x04
#define VIP_SERVICE_DFC (1 << 15) /* Giganet: accepted, no effect */
/* Argonne's modified Giganet header: the three levels as one mask, and a
 * flag VipCreateVi accepts and ignores (VipQueryVi does not report it). */
#define VIP_BASE_SERVICES                                                      \
	(VIP_SERVICE_UNRELIABLE | VIP_SERVICE_RELIABLE_DELIVERY |              \
	 VIP_SERVICE_RELIABLE_RECEPTION)
#define VIP_SERVICE_ACK (1 << 14)

/* ------------------------------------------------------------------ */
/* Return codes, states, errors                                        */
/* ------------------------------------------------------------------ */

/*
 * Each enumerator is also a macro of itself, so that code guarding its own
 * fallback (#ifndef VIP_ERROR_NOT_SUPPORTED ... #define it ... #endif)
 * sees ours and keeps our value; the names keep their enum types. (#if
 * cannot compare them: the preprocessor knows no enum values.)
 */
typedef enum {
	VIP_SUCCESS,
	VIP_NOT_DONE,
	VIP_INVALID_PARAMETER,
	VIP_ERROR_RESOURCE,
	VIP_TIMEOUT,
	VIP_REJECT,
	VIP_INVALID_RELIABILITY_LEVEL,
	VIP_INVALID_MTU,
	VIP_INVALID_QOS,
	VIP_INVALID_PTAG,
	VIP_INVALID_RDMAREAD,
	VIP_DESCRIPTOR_ERROR,
	VIP_INVALID_STATE,
	VIP_ERROR_NAMESERVICE,
	VIP_NO_MATCH,
	/* Giganet cLAN additions */
	VIP_NOT_REACHABLE,
	VIP_ERROR_NOT_SUPPORTED,
	VIP_ERROR
} VIP_RETURN;

#define VIP_SUCCESS VIP_SUCCESS
#define VIP_NOT_DONE VIP_NOT_DONE
#define VIP_INVALID_PARAMETER VIP_INVALID_PARAMETER
#define VIP_ERROR_RESOURCE VIP_ERROR_RESOURCE
#define VIP_TIMEOUT VIP_TIMEOUT
#define VIP_REJECT VIP_REJECT
#define VIP_INVALID_RELIABILITY_LEVEL VIP_INVALID_RELIABILITY_LEVEL
#define VIP_INVALID_MTU VIP_INVALID_MTU
#define VIP_INVALID_QOS VIP_INVALID_QOS
#define VIP_INVALID_PTAG VIP_INVALID_PTAG
#define VIP_INVALID_RDMAREAD VIP_INVALID_RDMAREAD
#define VIP_DESCRIPTOR_ERROR VIP_DESCRIPTOR_ERROR
#define VIP_INVALID_STATE VIP_INVALID_STATE
#define VIP_ERROR_NAMESERVICE VIP_ERROR_NAMESERVICE
#define VIP_NO_MATCH VIP_NO_MATCH
#define VIP_NOT_REACHABLE VIP_NOT_REACHABLE
#define VIP_ERROR_NOT_SUPPORTED VIP_ERROR_NOT_SUPPORTED
#define VIP_ERROR VIP_ERROR

typedef enum {
	VIP_STATE_IDLE,
	VIP_STATE_CONNECTED,
	VIP_STATE_CONNECT_PENDING,
	VIP_STATE_ERROR
} VIP_VI_STATE;

#define VIP_STATE_IDLE VIP_STATE_IDLE
#define VIP_STATE_CONNECTED VIP_STATE_CONNECTED
#define VIP_STATE_CONNECT_PENDING VIP_STATE_CONNECT_PENDING
#define VIP_STATE_ERROR VIP_STATE_ERROR

/* Tagged as both vendors' headers tag it. */
typedef enum _VIP_ERROR_CODE {
	VIP_ERROR_POST_DESC,
	VIP_ERROR_CONN_LOST,
	VIP_ERROR_RECVQ_EMPTY,
	VIP_ERROR_VI_OVERRUN,
	VIP_ERROR_RDMAW_PROT,
	VIP_ERROR_RDMAW_DATA,
	VIP_ERROR_RDMAW_ABORT,
	VIP_ERROR_RDMAR_PROT,
	VIP_ERROR_COMP_PROT,
	VIP_ERROR_RDMA_TRANSPORT,
	VIP_ERROR_CATASTROPHIC
} VIP_ERROR_CODE;

#define VIP_ERROR_POST_DESC VIP_ERROR_POST_DESC
#define VIP_ERROR_CONN_LOST VIP_ERROR_CONN_LOST
#define VIP_ERROR_RECVQ_EMPTY VIP_ERROR_RECVQ_EMPTY
#define VIP_ERROR_VI_OVERRUN VIP_ERROR_VI_OVERRUN
#define VIP_ERROR_RDMAW_PROT VIP_ERROR_RDMAW_PROT
#define VIP_ERROR_RDMAW_DATA VIP_ERROR_RDMAW_DATA
#define VIP_ERROR_RDMAW_ABORT VIP_ERROR_RDMAW_ABORT
#define VIP_ERROR_RDMAR_PROT VIP_ERROR_RDMAR_PROT
#define VIP_ERROR_COMP_PROT VIP_ERROR_COMP_PROT
#define VIP_ERROR_RDMA_TRANSPORT VIP_ERROR_RDMA_TRANSPORT
#define VIP_ERROR_CATASTROPHIC VIP_ERROR_CATASTROPHIC

typedef enum _VIP_RESOURCE_CODE {
	VIP_RESOURCE_NIC,
	VIP_RESOURCE_VI,
	VIP_RESOURCE_CQ,
	VIP_RESOURCE_DESCRIPTOR
} VIP_RESOURCE_CODE;

#define VIP_RESOURCE_NIC VIP_RESOURCE_NIC
#define VIP_RESOURCE_VI VIP_RESOURCE_VI
#define VIP_RESOURCE_CQ VIP_RESOURCE_CQ
#define VIP_RESOURCE_DESCRIPTOR VIP_RESOURCE_DESCRIPTOR

/* ------------------------------------------------------------------ */
/* Addresses and attributes                                            */
/* ------------------------------------------------------------------ */

/*
 * HostAddress[] holds HostAddressLen bytes of host address (4 for IPv4,
 * 16 for IPv6, network byte order) followed directly by DiscriminatorLen
 * bytes of discriminator. Allocate
 * sizeof(VIP_NET_ADDRESS) + HostAddressLen + DiscriminatorLen.
 */
typedef struct _VIP_NET_ADDRESS {
	VIP_UINT16 HostAddressLen;
	VIP_UINT16 DiscriminatorLen;
	VIP_UINT8 HostAddress[1];
} VIP_NET_ADDRESS;

/*
 * Filled from the verbs device and port (ibv_query_device/ibv_query_port)
 * minus what libvipl reserves. Where a field is libvipl's own choice rather
 * than the device's, it says so:
 *   Name                   verbs device name
 *   HardwareVersion        the device's hw_ver
 *   ProviderVersion        libvipl's version (0x00010000 for 1.0.0)
 *   LocalNicAddress        IP address of the port's netdev (from its GIDs)
 *   ThreadSafe             TRUE: libvipl locks what it shares
 *   MaxDiscriminatorLen    16: libvipl's, what fits in rdma_cm private data
 *   MaxDescriptorsPerQueue libvipl's cap (1024) within the device's max_qp_wr
 *   MaxSegmentsPerDesc     libvipl's cap (16) within the device's max_sge
 *   MaxTransferSize        the port's max_msg_sz, at most 0x7fffffff
 *                          (INT32_MAX): VIA programs keep it in an int
 *   NativeMTU              the port's active path MTU
 *   MaxPtags               the device's max_pd less the NIC's default ptag
 *   ReliabilityLevelSupport all three (UC for unreliable, RC for both
 *                          reliable levels; reliable reception is RC, whose
 *                          acknowledgement means the data is placed)
 *   RDMAReadSupport        the reliable levels (RDMA read needs RC)
 */
typedef struct _VIP_NIC_ATTRIBUTES {
	VIP_CHAR Name[64];
	VIP_ULONG HardwareVersion;
	VIP_ULONG ProviderVersion;
	VIP_UINT16 NicAddressLen;
	const VIP_UINT8 *LocalNicAddress;
	VIP_BOOLEAN ThreadSafe;
	VIP_UINT16 MaxDiscriminatorLen;
	VIP_ULONG MaxRegisterBytes;
	VIP_ULONG MaxRegisterRegions;
	VIP_ULONG MaxRegisterBlockBytes;
	VIP_ULONG MaxVI;
	VIP_ULONG MaxDescriptorsPerQueue;
	VIP_ULONG MaxSegmentsPerDesc;
	VIP_ULONG MaxCQ;
	VIP_ULONG MaxCQEntries;
	VIP_ULONG MaxTransferSize;
	VIP_ULONG NativeMTU;
	VIP_ULONG MaxPtags;
	VIP_RELIABILITY_LEVEL ReliabilityLevelSupport;
	VIP_RELIABILITY_LEVEL RDMAReadSupport;
} VIP_NIC_ATTRIBUTES;

/* A NULL Ptag selects the NIC's default protection tag. QoS is accepted
 * and ignored (the spec leaves its contents undefined). MaxTransferSize 0
 * asks for the NIC's maximum (VipQueryNic's, so at most 0x7fffffff); more
 * than that is VIP_INVALID_MTU. */
typedef struct _VIP_VI_ATTRIBUTES {
	VIP_RELIABILITY_LEVEL ReliabilityLevel;
	VIP_ULONG MaxTransferSize;
	VIP_QOS QoS;
	VIP_PROTECTION_HANDLE Ptag;
	VIP_BOOLEAN EnableRdmaWrite;
	VIP_BOOLEAN EnableRdmaRead;
} VIP_VI_ATTRIBUTES;

typedef struct _VIP_MEM_ATTRIBUTES {
	VIP_PROTECTION_HANDLE Ptag;
	VIP_BOOLEAN EnableRdmaWrite;
	VIP_BOOLEAN EnableRdmaRead;
} VIP_MEM_ATTRIBUTES;

/* ------------------------------------------------------------------ */
/* Descriptors                                                         */
/* ------------------------------------------------------------------ */

#define VIP_DESCRIPTOR_ALIGNMENT 64

struct _VIP_DESCRIPTOR;

typedef union {
	volatile VIP_UINT64 AddressBits;
	VIP_PVOID volatile Address;
	struct _VIP_DESCRIPTOR *volatile Descriptor; /* Giganet */
} VIP_PVOID64;

typedef struct _VIP_CONTROL_SEGMENT {
	VIP_PVOID64 Next;
	volatile VIP_MEM_HANDLE NextHandle;
	volatile VIP_UINT16 SegCount;
	volatile VIP_UINT16 Control;
	volatile VIP_UINT32 Reserved;
	volatile VIP_UINT32 ImmediateData;
	volatile VIP_UINT32 Length;
	volatile VIP_UINT32 Status;
} VIP_CONTROL_SEGMENT;

/* The remote end of an RDMA: peer's virtual address and memory handle. */
typedef struct _VIP_ADDRESS_SEGMENT {
	VIP_PVOID64 Data;
	volatile VIP_MEM_HANDLE Handle;
	volatile VIP_UINT32 Reserved;
} VIP_ADDRESS_SEGMENT;

typedef struct _VIP_DATA_SEGMENT {
	VIP_PVOID64 Data;
	volatile VIP_MEM_HANDLE Handle;
	volatile VIP_UINT32 Length;
} VIP_DATA_SEGMENT;

typedef union _VIP_DESCRIPTOR_SEGMENT {
	VIP_ADDRESS_SEGMENT Remote;
	VIP_DATA_SEGMENT Local;
} VIP_DESCRIPTOR_SEGMENT;

/*
 * SegCount segments follow the control segment; programs allocate room for
 * more than two after the struct. For RDMA the first is the address segment.
 * (The leading VIP_EXTENSION keeps strict C99 quiet about a struct whose
 * members are all anonymous.)
 */
VIP_EXTENSION typedef struct _VIP_DESCRIPTOR {
	VIP_EXTENSION union {
		VIP_CONTROL_SEGMENT CS;
		VIP_CONTROL_SEGMENT Control; /* Giganet */
	};
	VIP_EXTENSION union {
		VIP_DESCRIPTOR_SEGMENT DS[2];
		VIP_DATA_SEGMENT Data[2]; /* Giganet (declared Data[1] there) */
	};
} VIP_DESCRIPTOR;

/* CS.Control */
#define VIP_CONTROL_OP_SENDRECV 0x0000
#define VIP_CONTROL_OP_RDMAWRITE 0x0001
#define VIP_CONTROL_OP_RDMAREAD 0x0002
#define VIP_CONTROL_OP_RESERVED 0x0003
#define VIP_CONTROL_OP_MASK 0x0003
#define VIP_CONTROL_IMMEDIATE 0x0004
#define VIP_CONTROL_QFENCE 0x0008
#define VIP_CONTROL_RESERVED 0xFFF0

/* CS.Status, written by the provider when the descriptor completes */
#define VIP_STATUS_DONE 0x00000001
#define VIP_STATUS_FORMAT_ERROR 0x00000002
#define VIP_STATUS_PROTECTION_ERROR 0x00000004
#define VIP_STATUS_LENGTH_ERROR 0x00000008
#define VIP_STATUS_PARTIAL_ERROR 0x00000010
#define VIP_STATUS_DESC_FLUSHED_ERROR 0x00000020
#define VIP_STATUS_TRANSPORT_ERROR 0x00000040
#define VIP_STATUS_RDMA_PROT_ERROR 0x00000080
#define VIP_STATUS_REMOTE_DESC_ERROR 0x00000100
#define VIP_STATUS_ERROR_MASK 0x000001FE

#define VIP_STATUS_OP_SEND 0x00000000
#define VIP_STATUS_OP_RECEIVE 0x00010000
#define VIP_STATUS_OP_RDMA_WRITE 0x00020000
#define VIP_STATUS_OP_REMOTE_RDMA_WRITE 0x00030000
#define VIP_STATUS_OP_RDMA_READ 0x00040000
#define VIP_STATUS_OP_MASK 0x00070000
#define VIP_STATUS_IMMEDIATE 0x00080000
#define VIP_STATUS_RESERVED 0xFFF0FE00

/* ------------------------------------------------------------------ */
/* Errors and system management                                        */
/* ------------------------------------------------------------------ */

typedef struct _VIP_ERROR_DESCRIPTOR {
	VIP_NIC_HANDLE NicHandle;
	VIP_VI_HANDLE ViHandle;
	VIP_CQ_HANDLE CQHandle;
	VIP_DESCRIPTOR *DescriptorPtr;
	VIP_ULONG OpCode;
	VIP_RESOURCE_CODE ResourceCode;
	VIP_ERROR_CODE ErrorCode;
} VIP_ERROR_DESCRIPTOR;

#define VIP_SMI_AUTODISCOVERY ((VIP_ULONG)1)

/*
 * VipQuerySystemManagementInfo(VIP_SMI_AUTODISCOVERY): on entry NumAdAddrs
 * is how many entries ADAddrArray has, each a VIP_NET_ADDRESS with room for
 * 16 host address bytes; on return the NIC's own addresses are there and
 * NumAdAddrs says how many (all libvipl can know without a fabric manager).
 * The two dialects disagree on ADAddrArray's type; a C field cannot have
 * both. Intel's (VIP_NET_ADDRESS **) is the default; define
 * VIPL_CLAN_AUTODISCOVERY before including this header for Giganet's.
 */
typedef struct _VIP_AUTODISCOVERY_LIST {
	VIP_ULONG NumberOfHops;
#ifdef VIPL_CLAN_AUTODISCOVERY
	VIP_NET_ADDRESS *ADAddrArray;
#else
	VIP_NET_ADDRESS **ADAddrArray;
#endif
	VIP_ULONG NumAdAddrs;
} VIP_AUTODISCOVERY_LIST;

/* Handler shapes (Giganet names) */
typedef void (*VIP_ERROR_HANDLER)(VIP_PVOID Context,
				  VIP_ERROR_DESCRIPTOR *ErrorDesc);
typedef void (*VIP_VI_CALLBACK)(VIP_PVOID Context, VIP_NIC_HANDLE NicHandle,
				VIP_VI_HANDLE ViHandle,
				VIP_DESCRIPTOR *Descriptor);
typedef void (*VIP_CQ_CALLBACK)(VIP_PVOID Context, VIP_NIC_HANDLE NicHandle,
				VIP_VI_HANDLE ViHandle, VIP_BOOLEAN RecvQueue);

/* ------------------------------------------------------------------ */
/* Functions                                                           */
/* ------------------------------------------------------------------ */

/* NIC. DeviceName is a verbs device name or a VIA-era one: /dev/via_<netdev>
 * (the device bound to that interface; /dev/via_lo: lo's, else the first),
 * /dev/clanvi<N> or clanvi<N>, VINIC or VINIC<N> (the N-th device, from 0).
 * NULL or "" picks the first device. $VIPL_DEVICE, when set, overrides
 * whatever name is passed. */
VIP_RETURN VipOpenNic(IN const VIP_CHAR *DeviceName,
		      OUT VIP_NIC_HANDLE *NicHandle);
VIP_RETURN VipCloseNic(IN VIP_NIC_HANDLE NicHandle);
VIP_RETURN VipQueryNic(IN VIP_NIC_HANDLE NicHandle,
		       OUT VIP_NIC_ATTRIBUTES *Attrs);

/* Protection tags and memory */
VIP_RETURN VipCreatePtag(IN VIP_NIC_HANDLE NicHandle,
			 OUT VIP_PROTECTION_HANDLE *ProtectionTag);
VIP_RETURN VipDestroyPtag(IN VIP_NIC_HANDLE NicHandle,
			  IN VIP_PROTECTION_HANDLE ProtectionTag);
VIP_RETURN VipRegisterMem(IN VIP_NIC_HANDLE NicHandle,
			  IN VIP_PVOID VirtualAddress, IN VIP_ULONG Length,
			  IN VIP_MEM_ATTRIBUTES *MemAttrs,
			  OUT VIP_MEM_HANDLE *MemHandle);
VIP_RETURN VipDeregisterMem(IN VIP_NIC_HANDLE NicHandle,
			    IN VIP_PVOID VirtualAddress,
			    IN VIP_MEM_HANDLE MemHandle);
VIP_RETURN VipQueryMem(IN VIP_NIC_HANDLE NicHandle, IN VIP_PVOID Address,
		       IN VIP_MEM_HANDLE MemHandle,
		       OUT VIP_MEM_ATTRIBUTES *MemAttrs);
VIP_RETURN VipSetMemAttributes(IN VIP_NIC_HANDLE NicHandle,
			       IN VIP_PVOID Address,
			       IN VIP_MEM_HANDLE MemHandle,
			       IN VIP_MEM_ATTRIBUTES *MemAttrs);

/* VIs. Either CQ handle may be NULL. */
VIP_RETURN VipCreateVi(IN VIP_NIC_HANDLE NicHandle,
		       IN VIP_VI_ATTRIBUTES *ViAttribs,
		       IN VIP_CQ_HANDLE SendCQHandle,
		       IN VIP_CQ_HANDLE RecvCQHandle,
		       OUT VIP_VI_HANDLE *ViHandle);
VIP_RETURN VipDestroyVi(IN VIP_VI_HANDLE ViHandle);
VIP_RETURN VipQueryVi(IN VIP_VI_HANDLE ViHandle, OUT VIP_VI_STATE *State,
		      OUT VIP_VI_ATTRIBUTES *Attrs,
		      OUT VIP_BOOLEAN *ViSendQEmpty,
		      OUT VIP_BOOLEAN *ViRecvQEmpty);
VIP_RETURN VipSetViAttributes(IN VIP_VI_HANDLE ViHandle,
			      IN VIP_VI_ATTRIBUTES *Attrs);

/* Data transfer */
VIP_RETURN VipPostSend(IN VIP_VI_HANDLE ViHandle,
		       IN VIP_DESCRIPTOR *DescriptorPtr,
		       IN VIP_MEM_HANDLE MemoryHandle);
VIP_RETURN VipSendDone(IN VIP_VI_HANDLE ViHandle,
		       OUT VIP_DESCRIPTOR **DescriptorPtr);
VIP_RETURN VipSendWait(IN VIP_VI_HANDLE ViHandle, IN VIP_ULONG Timeout,
		       OUT VIP_DESCRIPTOR **DescriptorPtr);
VIP_RETURN VipSendNotify(IN VIP_VI_HANDLE ViHandle, IN VIP_PVOID Context,
			 IN VIP_VI_CALLBACK Handler);
VIP_RETURN VipPostRecv(IN VIP_VI_HANDLE ViHandle,
		       IN VIP_DESCRIPTOR *DescriptorPtr,
		       IN VIP_MEM_HANDLE MemoryHandle);
VIP_RETURN VipRecvDone(IN VIP_VI_HANDLE ViHandle,
		       OUT VIP_DESCRIPTOR **DescriptorPtr);
VIP_RETURN VipRecvWait(IN VIP_VI_HANDLE ViHandle, IN VIP_ULONG Timeout,
		       OUT VIP_DESCRIPTOR **DescriptorPtr);
VIP_RETURN VipRecvNotify(IN VIP_VI_HANDLE ViHandle, IN VIP_PVOID Context,
			 IN VIP_VI_CALLBACK Handler);

/* Completion queues */
VIP_RETURN VipCreateCQ(IN VIP_NIC_HANDLE NicHandle, IN VIP_ULONG EntryCount,
		       OUT VIP_CQ_HANDLE *CQHandle);
VIP_RETURN VipDestroyCQ(IN VIP_CQ_HANDLE CQHandle);
VIP_RETURN VipResizeCQ(IN VIP_CQ_HANDLE CQHandle, IN VIP_ULONG EntryCount);
VIP_RETURN VipCQDone(IN VIP_CQ_HANDLE CQHandle, OUT VIP_VI_HANDLE *ViHandle,
		     OUT VIP_BOOLEAN *RecvQueue);
VIP_RETURN VipCQWait(IN VIP_CQ_HANDLE CQHandle, IN VIP_ULONG Timeout,
		     OUT VIP_VI_HANDLE *ViHandle, OUT VIP_BOOLEAN *RecvQueue);
VIP_RETURN VipCQNotify(IN VIP_CQ_HANDLE CQHandle, IN VIP_PVOID Context,
		       IN VIP_CQ_CALLBACK Handler);

/* Client-server connections */
VIP_RETURN VipConnectWait(IN VIP_NIC_HANDLE NicHandle,
			  IN VIP_NET_ADDRESS *LocalAddr, IN VIP_ULONG Timeout,
			  OUT VIP_NET_ADDRESS *RemoteAddr,
			  OUT VIP_VI_ATTRIBUTES *RemoteViAttribs,
			  OUT VIP_CONN_HANDLE *ConnHandle);
VIP_RETURN VipConnectAccept(IN VIP_CONN_HANDLE ConnHandle,
			    IN VIP_VI_HANDLE ViHandle);
VIP_RETURN VipConnectReject(IN VIP_CONN_HANDLE ConnHandle);
VIP_RETURN VipConnectRequest(IN VIP_VI_HANDLE ViHandle,
			     IN VIP_NET_ADDRESS *LocalAddr,
			     IN VIP_NET_ADDRESS *RemoteAddr,
			     IN VIP_ULONG Timeout,
			     OUT VIP_VI_ATTRIBUTES *RemoteViAttribs);
VIP_RETURN VipDisconnect(IN VIP_VI_HANDLE ViHandle);

/* Peer-to-peer connections */
VIP_RETURN VipConnectPeerRequest(IN VIP_VI_HANDLE ViHandle,
				 IN VIP_NET_ADDRESS *LocalAddr,
				 IN VIP_NET_ADDRESS *RemoteAddr,
				 IN VIP_ULONG Timeout);
VIP_RETURN VipConnectPeerDone(IN VIP_VI_HANDLE ViHandle,
			      OUT VIP_VI_ATTRIBUTES *RemoteViAttribs);
VIP_RETURN VipConnectPeerWait(IN VIP_VI_HANDLE ViHandle,
			      OUT VIP_VI_ATTRIBUTES *RemoteViAttribs);

/* Name service */
VIP_RETURN VipNSInit(IN VIP_NIC_HANDLE NicHandle, IN VIP_PVOID NSInitInfo);
VIP_RETURN VipNSGetHostByName(IN VIP_NIC_HANDLE NicHandle, IN VIP_CHAR *Name,
			      OUT VIP_NET_ADDRESS *Address,
			      IN VIP_ULONG NameIndex);
VIP_RETURN VipNSGetHostByAddr(IN VIP_NIC_HANDLE NicHandle,
			      IN VIP_NET_ADDRESS *Address, OUT VIP_CHAR *Name,
			      IN OUT VIP_ULONG *NameLen);
VIP_RETURN VipNSShutdown(IN VIP_NIC_HANDLE NicHandle);

/* Errors and management. A NULL Handler restores the default (stderr). */
VIP_RETURN VipErrorCallback(IN VIP_NIC_HANDLE NicHandle, IN VIP_PVOID Context,
			    IN VIP_ERROR_HANDLER Handler);
VIP_RETURN VipQuerySystemManagementInfo(IN VIP_NIC_HANDLE NicHandle,
					IN VIP_ULONG InfoType,
					OUT VIP_PVOID SysManInfo);
/* The library cannot see which ADAddrArray a program was compiled with,
 * so Giganet's layout has an entry point of its own, chosen here. */
VIP_RETURN VipQuerySystemManagementInfoClan(IN VIP_NIC_HANDLE NicHandle,
					    IN VIP_ULONG InfoType,
					    OUT VIP_PVOID SysManInfo);
#ifdef VIPL_CLAN_AUTODISCOVERY
#define VipQuerySystemManagementInfo VipQuerySystemManagementInfoClan
#endif

/* Giganet cLAN vendor calls */
VIP_RETURN VipAddTagCQ(IN VIP_CQ_HANDLE CQHandle,
		       IN OUT VIP_EVENT_HANDLE *Event, IN VIP_ULONG Tag,
		       IN VIP_ULONG Priority);
VIP_RETURN VipRemoveTagCQ(IN VIP_CQ_HANDLE CQHandle, IN VIP_EVENT_HANDLE Event,
			  IN VIP_ULONG Tag);
VIP_RETURN VipPostDeferredSends(IN VIP_VI_HANDLE ViHandle,
				IN VIP_BOOLEAN EnableInterrupt,
				IN OUT VIP_BOOLEAN *SendsDeferred);
/* One pointer per VI, for the program's use (NULL for a bad handle). */
VIP_PVOID VipGetUserData(IN VIP_VI_HANDLE ViHandle);
void VipSetUserData(IN VIP_VI_HANDLE ViHandle, IN VIP_PVOID Data);

#ifdef __cplusplus
}
#endif

#endif /* VIPL_H */
