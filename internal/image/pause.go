package image

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// PauseImageRef names the sandbox ("pause") image k1s builds itself. The
// containerd supervisor loads it and configures it as sandbox_image.
const PauseImageRef = "k1s.local/pause:3.10"

// PauseImage returns the sandbox image for this machine's architecture:
// one static executable, /pause, generated here byte by byte, so that
// nothing is downloaded and no compiler is needed at runtime.
func PauseImage() (v1.Image, error) {
	exe, err := pauseELF(runtime.GOARCH)
	if err != nil {
		return nil, err
	}
	return Build(PauseImageRef, []File{{Path: "/pause", Data: exe, Mode: 0o755}},
		ImageConfig{Entrypoint: []string{"/pause"}})
}

// The pause program, as PID 1 of a pod, must block forever, reap
// children that get reparented to it (shareProcessNamespace), and leave
// on SIGTERM or SIGINT like the upstream pause. It:
//
//	rt_sigprocmask(SIG_BLOCK, {SIGINT, SIGTERM, SIGCHLD})
//	loop:
//	  sig = rt_sigtimedwait({SIGINT, SIGTERM, SIGCHLD}, NULL, NULL)
//	  if sig == SIGCHLD: while wait4(-1, NULL, WNOHANG, NULL) > 0 {}; goto loop
//	  if sig < 0: goto loop   (EINTR)
//	  exit_group(0)
//
// Blocking the signals matters: the kernel drops default-action signals
// sent to a PID-namespace init, but not blocked ones, so they stay pending
// for rt_sigtimedwait. containerd stops sandboxes with SIGKILL anyway.

// pauseSigset is 1<<(SIGINT-1) | 1<<(SIGTERM-1) | 1<<(SIGCHLD-1).
const pauseSigset = 1<<(2-1) | 1<<(15-1) | 1<<(17-1)

// pauseAMD64 is the program in x86-64 machine code.
func pauseAMD64() []byte {
	return []byte{
		0x68, 0x02, 0x40, 0x01, 0x00, // 0:  push 0x14002 (the sigset, at rsp)
		0xb8, 0x0e, 0x00, 0x00, 0x00, // 5:  mov eax, 14 (rt_sigprocmask)
		0x31, 0xff, //                   10: xor edi, edi (SIG_BLOCK)
		0x48, 0x89, 0xe6, //             12: mov rsi, rsp
		0x31, 0xd2, //                   15: xor edx, edx
		0x41, 0xba, 0x08, 0x00, 0x00, 0x00, // 17: mov r10d, 8
		0x0f, 0x05, //                   23: syscall
		0xb8, 0x80, 0x00, 0x00, 0x00, // 25 wait: mov eax, 128 (rt_sigtimedwait)
		0x48, 0x89, 0xe7, //             30: mov rdi, rsp
		0x31, 0xf6, //                   33: xor esi, esi
		0x31, 0xd2, //                   35: xor edx, edx
		0x41, 0xba, 0x08, 0x00, 0x00, 0x00, // 37: mov r10d, 8
		0x0f, 0x05, //                   43: syscall
		0x83, 0xf8, 0x11, //             45: cmp eax, 17 (SIGCHLD)
		0x74, 0x0d, //                   48: je reap (63)
		0x85, 0xc0, //                   50: test eax, eax
		0x78, 0xe3, //                   52: js wait (25)
		0xb8, 0xe7, 0x00, 0x00, 0x00, // 54: mov eax, 231 (exit_group)
		0x31, 0xff, //                   59: xor edi, edi
		0x0f, 0x05, //                   61: syscall
		0xb8, 0x3d, 0x00, 0x00, 0x00, // 63 reap: mov eax, 61 (wait4)
		0xbf, 0xff, 0xff, 0xff, 0xff, // 68: mov edi, -1
		0x31, 0xf6, //                   73: xor esi, esi
		0xba, 0x01, 0x00, 0x00, 0x00, // 75: mov edx, 1 (WNOHANG)
		0x45, 0x31, 0xd2, //             80: xor r10d, r10d
		0x0f, 0x05, //                   83: syscall
		0x85, 0xc0, //                   85: test eax, eax
		0x7f, 0xe6, //                   87: jg reap (63)
		0xeb, 0xbe, //                   89: jmp wait (25)
	}
}

// pauseARM64 is the program in AArch64 machine code (one word per
// instruction; branch offsets count words).
func pauseARM64() []byte {
	words := []uint32{
		0xd2880040, // 0:  movz x0, #0x4002
		0xf2a00020, // 1:  movk x0, #0x1, lsl #16
		0xf81f0fe0, // 2:  str x0, [sp, #-16]! (the sigset, at sp)
		0xd2800000, // 3:  movz x0, #0 (SIG_BLOCK)
		0x910003e1, // 4:  mov x1, sp
		0xd2800002, // 5:  movz x2, #0
		0xd2800103, // 6:  movz x3, #8
		0xd28010e8, // 7:  movz x8, #135 (rt_sigprocmask)
		0xd4000001, // 8:  svc #0
		0x910003e0, // 9 wait: mov x0, sp
		0xd2800001, // 10: movz x1, #0
		0xd2800002, // 11: movz x2, #0
		0xd2800103, // 12: movz x3, #8
		0xd2801128, // 13: movz x8, #137 (rt_sigtimedwait)
		0xd4000001, // 14: svc #0
		0x7100441f, // 15: cmp w0, #17 (SIGCHLD)
		0x540000a0, // 16: b.eq reap (21)
		0x37ffff00, // 17: tbnz w0, #31, wait (9)
		0xd2800000, // 18: movz x0, #0
		0xd2800bc8, // 19: movz x8, #94 (exit_group)
		0xd4000001, // 20: svc #0
		0x92800000, // 21 reap: movn x0, #0 (-1)
		0xd2800001, // 22: movz x1, #0
		0xd2800022, // 23: movz x2, #1 (WNOHANG)
		0xd2800003, // 24: movz x3, #0
		0xd2802088, // 25: movz x8, #260 (wait4)
		0xd4000001, // 26: svc #0
		0xf100001f, // 27: cmp x0, #0
		0x54ffff2c, // 28: b.gt reap (21)
		0x17ffffec, // 29: b wait (9)
	}
	code := make([]byte, 4*len(words))
	for i, w := range words {
		binary.LittleEndian.PutUint32(code[4*i:], w)
	}
	return code
}

// pauseELF wraps the pause program for goarch in a minimal static ELF
// executable: a header, one read+execute PT_LOAD segment mapping the
// whole file, and the code right after the program header.
func pauseELF(goarch string) ([]byte, error) {
	var code []byte
	var machine elf.Machine
	switch goarch {
	case "amd64":
		code, machine = pauseAMD64(), elf.EM_X86_64
	case "arm64":
		code, machine = pauseARM64(), elf.EM_AARCH64
	default:
		return nil, fmt.Errorf("pause image: no pause program for architecture %s", goarch)
	}
	const base = 0x400000
	const ehsize, phsize = 64, 56
	size := uint64(ehsize + phsize + len(code))
	hdr := elf.Header64{
		Type:      uint16(elf.ET_EXEC),
		Machine:   uint16(machine),
		Version:   uint32(elf.EV_CURRENT),
		Entry:     base + ehsize + phsize,
		Phoff:     ehsize,
		Ehsize:    ehsize,
		Phentsize: phsize,
		Phnum:     1,
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	hdr.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	hdr.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	hdr.Ident[elf.EI_OSABI] = byte(elf.ELFOSABI_NONE)
	prog := elf.Prog64{
		Type:   uint32(elf.PT_LOAD),
		Flags:  uint32(elf.PF_R | elf.PF_X),
		Off:    0,
		Vaddr:  base,
		Paddr:  base,
		Filesz: size,
		Memsz:  size,
		Align:  0x10000,
	}
	var buf bytes.Buffer
	if err := binary.Write(&buf, binary.LittleEndian, hdr); err != nil {
		return nil, err
	}
	if err := binary.Write(&buf, binary.LittleEndian, prog); err != nil {
		return nil, err
	}
	buf.Write(code)
	return buf.Bytes(), nil
}
