// Text views of objects for the CLI: describe, disassemble, verify_all.
#include <fmt/format.h>

#include "bpf/isa/isa.h"
#include "bpf/maps/maps.h"
#include "bpf/runtime.h"

namespace fusebpf::bpf {

std::string describe(const Object& obj) {
  std::string out;
  const ElfObject& elf = obj.elf();
  out += fmt::format("license: {}\n", elf.license.empty() ? "(none)" : elf.license);
  out += fmt::format("programs: {}\n", elf.programs.size());
  for (const RawProgram& p : elf.programs) {
    out += fmt::format("  {} [{}]: {} insns", p.name, p.section, p.insns.size());
    std::vector<std::string_view> maps;
    for (const MapSpec& m : p.maps) maps.push_back(m.name);
    if (!maps.empty()) out += fmt::format(", maps: {}", fmt::join(maps, " "));
    if (!p.kfunc_names.empty()) out += fmt::format(", kfuncs: {}", fmt::join(p.kfunc_names, " "));
    out += "\n";
  }
  out += fmt::format("maps: {}\n", elf.maps.size());
  for (const MapSpec& m : elf.maps) {
    out += fmt::format("  {}: {} key {} value {} max_entries {}", m.name, map_type_name(m.type),
                       m.key_size, m.value_size, m.max_entries);
    if (m.flags != 0) out += fmt::format(" flags {:#x}", m.flags);
    if (m.frozen) out += " read-only";
    out += "\n";
  }
  out += fmt::format("struct_ops: {}\n", elf.struct_ops.size());
  for (const StructOps& s : elf.struct_ops) {
    out += fmt::format("  struct {} {} [{}]\n", s.type_name, s.var_name, s.section);
    for (const StructOpsMember& m : s.members) {
      if (!m.program.empty()) {
        out += fmt::format("    .{} = {}\n", m.name, m.program);
      } else {
        bool text = !m.data.empty() && m.data[0] != std::byte{0};
        if (text) {
          out += fmt::format("    .{} = \"{}\"\n", m.name, s.string_member(m.name));
        } else {
          out += fmt::format("    .{} = {} bytes\n", m.name, m.data.size());
        }
      }
    }
  }
  return out;
}

std::string disassemble(const RawProgram& program) {
  std::string out = fmt::format("{} [{}]:\n", program.name, program.section);
  const LineInfo* shown = nullptr;
  for (size_t pc = 0; pc < program.insns.size(); ++pc) {
    const LineInfo* line = program.line_at(static_cast<uint32_t>(pc));
    if (line != nullptr && line != shown && line->line != 0) {
      out += fmt::format("; {}:{}: {}\n", line->file, line->line, line->text);
      shown = line;
    }
    const Insn& in = program.insns[pc];
    bool wide = in.opcode == 0x18 && pc + 1 < program.insns.size();
    out += fmt::format("{:5}: {}\n", pc,
                       isa::disassemble(in, wide ? &program.insns[pc + 1] : nullptr));
    if (wide) ++pc;
  }
  return out;
}

VerifyReport verify_all(
    const Object& obj, const Platform& platform,
    const std::function<const ContextDescriptor*(const RawProgram&)>& context_for) {
  VerifyReport report;
  for (const RawProgram& p : obj.programs()) {
    const ContextDescriptor* ctx = context_for(p);
    if (ctx == nullptr) {
      report.ok = false;
      report.text += fmt::format("{} [{}]: no context known for this program\n", p.name, p.section);
      continue;
    }
    auto v = obj.verify(p.name, *ctx, &platform);
    if (v) {
      report.text += fmt::format("{} [{}]: ok ({} insns, stack {} bytes)\n", p.name, p.section,
                                 p.insns.size(), v->stack_size());
    } else {
      report.ok = false;
      report.text += v.error();
      if (!report.text.ends_with('\n')) report.text += '\n';
    }
  }
  return report;
}

}  // namespace fusebpf::bpf
