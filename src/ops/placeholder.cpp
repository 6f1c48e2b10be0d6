// Placeholder so the ops library is never empty; removed once it has sources.
namespace talkie::ops {
void Placeholder() {}
}
